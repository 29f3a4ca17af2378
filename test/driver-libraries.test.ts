// missingDriverLibrary: the cause and the fix named when a Node adapter path gives no adapter
// (no GPU needed: the file system is a fake).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingDriverLibrary } from '../src/node/device.js';

const fakeFs = (...files: string[]) => (path: string) => files.includes(path);
const chromiumDriver = '/usr/lib/chromium/libvk_swiftshader.so';

test('SwiftShader without the system Vulkan loader names libvulkan1', () => {
  const why = missingDriverLibrary('swiftshader', fakeFs(chromiumDriver), '');
  assert.ok(why, 'a missing loader must be reported');
  assert.match(why, /libvulkan\.so\.1/);
  assert.match(why, /apt-get install libvulkan1\b/);
  assert.doesNotMatch(why, /chromium \(/, 'the driver is present and must not be blamed');
});

test('SwiftShader with loader and driver present reports no missing library', () => {
  assert.equal(missingDriverLibrary('swiftshader', fakeFs('/lib/x86_64-linux-gnu/libvulkan.so.1', chromiumDriver), ''), undefined);
});

test('a loader found through LD_LIBRARY_PATH counts', () => {
  assert.equal(missingDriverLibrary('swiftshader', fakeFs('/opt/vk/libvulkan.so.1', chromiumDriver), '/opt/x:/opt/vk'), undefined);
});

test('nothing installed: SwiftShader names both packages', () => {
  const why = missingDriverLibrary('swiftshader', fakeFs(), '');
  assert.match(why ?? '', /apt-get install libvulkan1 chromium/);
});

test('llvmpipe without Mesa\'s EGL driver names libegl-mesa0', () => {
  const why = missingDriverLibrary('llvmpipe', fakeFs('/usr/lib/x86_64-linux-gnu/libEGL.so.1', '/usr/lib/x86_64-linux-gnu/libGLESv2.so.2'), '');
  assert.match(why ?? '', /libEGL_mesa\.so\.0/);
  assert.match(why ?? '', /apt-get install libegl-mesa0 /);
});
