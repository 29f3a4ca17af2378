// Hub model ids as timm's create_model takes them: 'hf-hub:<owner>/<name>[@<revision>]'
// (e.g. 'hf-hub:timm/resnet50.a1_in1k'), and the addresses of a repo's files:
// <endpoint>/<owner>/<name>/resolve/<revision>/<file>, the endpoint https://huggingface.co unless
// the caller's `hubEndpoint` or (Node) the HF_ENDPOINT environment variable names another.

import { nodePlatform } from '../platform.js';
import { HubError } from './errors.js';

export const HUB_PREFIX = 'hf-hub:';
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubRef {
  /** '<owner>/<name>', e.g. 'timm/resnet50.a1_in1k'. */
  repo: string;
  /** A branch, tag or commit; default 'main'. */
  revision: string;
}

/** Whether `s` is a Hub id (starts with 'hf-hub:'). */
export function isHubId(s: string): boolean {
  return s.startsWith(HUB_PREFIX);
}

// The Hub's repo names: letters, digits, '-', '_', '.'; at most 96 characters; no '--' or '..' and
// no '.' or '-' at either end. Revisions: branch and tag names (git's ref rules, simplified) or commits.
const NAME = /^(?![.-])(?!.*(--|\.\.))[\w.-]{1,96}(?<![.-])$/;
const REVISION = /^(?![./])(?!.*(\.\.|\/\/|@\{))[\w./-]{1,255}(?<![./])$/;

/** Parses 'hf-hub:owner/name[@revision]'; throws HubError naming what is wrong. */
export function parseHubId(id: string): HubRef {
  if (!isHubId(id)) throw new HubError(`'${id}' is not a Hub model id: it must start with '${HUB_PREFIX}' (e.g. hf-hub:timm/resnet50.a1_in1k)`);
  const body = id.slice(HUB_PREFIX.length);
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p))) {
    throw new HubError(`'${id}' is not a Hub model id: expected ${HUB_PREFIX}<owner>/<name>[@<revision>] with names of letters, ` +
      "digits, '-', '_' and '.' (e.g. hf-hub:timm/resnet50.a1_in1k)");
  }
  if (!REVISION.test(revision)) throw new HubError(`'${id}': '${revision}' is not a branch, tag or commit name`);
  return { repo, revision };
}

/** The endpoint: `hubEndpoint` if given, else (Node) $HF_ENDPOINT, else https://huggingface.co; without a trailing '/'. */
export function hubEndpoint(given?: string): string {
  const e = given ?? nodePlatform()?.env('HF_ENDPOINT') ?? DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(e);
  } catch {
    throw new HubError(`Hub endpoint '${e}' is not a URL${given === undefined ? ' (from HF_ENDPOINT)' : ''}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HubError(`Hub endpoint '${e}' must be an http(s) URL`);
  return e.replace(/\/+$/, '');
}

/** The address of `file` in the repo at its revision. */
export function hubFileUrl(endpoint: string, ref: HubRef, file: string): string {
  return `${endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${file}`;
}
