// Typed errors of the checkpoint reader and converter.
//
// Every failure caused by the input file (malformed, truncated, malicious, wrong architecture)
// is a CheckpointError; anything else escaping these modules is a bug. Callers (the CLI, the
// demo) print `message` without a stack for CheckpointErrors.

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The pickle names a global that is not on the whitelist; nothing of it was executed. */
export class UnsafePickleError extends CheckpointError {
  override name = 'UnsafePickleError';
  /** The refused global as "module.name", e.g. "posix.system". */
  readonly global: string;
  constructor(global: string, why = 'is not on the whitelist of safe globals') {
    super(`refusing to load pickle global '${global}': ${why}; only PyTorch state dicts (tensors, storages, ` +
      `OrderedDict) are supported — save the model with torch.save(model.state_dict(), path)`);
    this.global = global;
  }
}

/** The pickle stream is malformed: unknown opcode, truncated, stack misuse, a limit exceeded. */
export class PickleFormatError extends CheckpointError {
  override name = 'PickleFormatError';
}

/** The container (zip, legacy stream, tar, safetensors) is malformed, truncated or unknown. */
export class CheckpointFormatError extends CheckpointError {
  override name = 'CheckpointFormatError';
}

/** The tensors do not fit the requested or any known architecture, or the options are invalid. */
export class ConversionError extends CheckpointError {
  override name = 'ConversionError';
}
