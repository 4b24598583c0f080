// One power-on of a virtual node's MicroPython: the official WebAssembly port behind a serial console.
//
// Run by fabnode.sim.node (argv: runtime dir). stdin/stdout carry frames: 1 type byte, 4-byte
// little-endian length, payload. Host -> bridge:
//   F  path \0 data     place a file in the node's filesystem (before C: /.sim files; later: data)
//   C  JSON config      {fsDir, tmpDir, fsBlocks, speed, epochNs, tickIntervalMs} -> boot
//   S  bytes            serial console input
//   X  JSON {id, code, eval}   run code in the simulation namespace (outside the REPL)
// Bridge -> host:
//   S  bytes            serial console output
//   R  JSON {id, ok, value | error}   answer to X
//   E  JSON {event, ...}  "ready" after boot, "reset" when the firmware asks for a hard reset
//
// The node's filesystem is Emscripten's MEMFS, loaded from fsDir at power-on and written back
// like littlefs commits: a file reaches fsDir (atomically, via tmpDir) when it is closed, so a
// power cut leaves the previous version. Space is counted in littlefs-like 4 KiB blocks and a
// write past fsBlocks fails with errno 28 (ENOSPC as the ESP32 port numbers it).

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const BLOCK_SIZE = 4096;
// Emscripten (WASI) errno -> the numbers MicroPython uses on the ESP32 (and mpremote decodes).
const ESP32_ERRNO = {
  1: 7, 2: 13, 6: 11, 8: 9, 10: 16, 20: 17, 22: 27, 28: 22, 29: 5, 31: 21, 33: 24, 37: 36, 43: 19,
  44: 2, 48: 12, 51: 28, 54: 20, 55: 39, 58: 95, 63: 1, 69: 30, 70: 29, 75: 18,
};
const ENOSPC = 28; // already in ESP32 numbering
const FS_CALLS_FROM_SYSCALLS = [
  "open", "close", "read", "write", "llseek", "stat", "lstat", "fstat", "mkdir", "rmdir", "unlink",
  "rename", "readdir", "truncate", "ftruncate", "chdir", "readlink", "chmod", "utime", "getStreamChecked",
];
const RAW_PASTE_WINDOW = 256;
const HIDDEN_ROOT_ENTRIES = new Set(["dev", "proc", "tmp", "home", ".sim"]);
const NOT_PERSISTED = ["/.sim", "/dev", "/proc", "/tmp", "/home"];
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const FRIENDLY_BANNER_END = "for more information.\r\n";

const runtimeDir = process.argv[2];
const { loadMicroPython } = await import(pathToFileURL(path.join(runtimeDir, "micropython.mjs")).href);

// ---- framing ---------------------------------------------------------------------------------

function send(type, payload) {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeUInt32LE(payload.length, 1);
  // Pipes are synchronous on POSIX in node, so output is streamed even while Python runs.
  process.stdout.write(Buffer.concat([header, payload]));
}
const sendJson = (type, obj) => send(type, Buffer.from(JSON.stringify(obj)));

// ---- console output --------------------------------------------------------------------------

let outBytes = [];
let suppressOk = 0; // raw-paste answers without the "OK" the plain raw REPL prints
let outTail = "";
let rawMode = false;

function consoleOut(byte) {
  if (suppressOk > 0) {
    if (byte === "OK".charCodeAt(2 - suppressOk)) {
      suppressOk -= 1;
      return;
    }
    suppressOk = 0;
  }
  outBytes.push(byte);
  outTail = (outTail + String.fromCharCode(byte)).slice(-32);
  if (byte === 10) {
    // The REPL mode is only visible from what pyexec prints.
    if (outTail.endsWith(RAW_BANNER)) rawMode = true;
    else if (outTail.endsWith(FRIENDLY_BANNER_END)) rawMode = false;
  }
  if (byte === 10 || outBytes.length >= 512) flushOut();
}

function flushOut() {
  if (outBytes.length) {
    send("S", Buffer.from(outBytes));
    outBytes = [];
  }
}
const print = (text) => { for (const b of Buffer.from(text, "latin1")) consoleOut(b); };

const mp = await loadMicroPython({
  heapsize: 1024 * 1024,
  linebuffer: false,
  stdout: (bytes) => bytes.forEach(consoleOut),
  stderr: (bytes) => bytes.forEach(consoleOut),
});
const FS = mp.FS;

// ---- filesystem: persistence and capacity ------------------------------------------------------

let config = null;

const isPersisted = (p) => p.startsWith("/") && !NOT_PERSISTED.some((d) => p === d || p.startsWith(d + "/"));
const hostPath = (p) => path.join(config.fsDir, p);
const absolute = (p) => path.posix.resolve(FS.cwd(), p);
const blocksFor = (size) => Math.ceil(size / BLOCK_SIZE);

function usedBlocks(dir = "/") {
  let blocks = 2; // a directory is a littlefs metadata pair
  for (const name of FS.readdir(dir)) {
    if (name === "." || name === "..") continue;
    const p = dir === "/" ? "/" + name : dir + "/" + name;
    if (!isPersisted(p)) continue;
    const st = FS.stat(p);
    blocks += FS.isDir(st.mode) ? usedBlocks(p) : blocksFor(st.size);
  }
  return blocks;
}

function esp32Error(code) {
  const error = new FS.ErrnoError(code);
  error.esp32 = true;
  return error;
}

function ensureSpace(extraBlocks) {
  if (extraBlocks > 0 && usedBlocks() + extraBlocks > config.fsBlocks) throw esp32Error(ENOSPC);
}

// Errors leave the filesystem with ESP32 errno numbers. Only the outermost FS call translates,
// because FS functions call each other and some check the WASI code of an inner call.
function translateErrnos() {
  let depth = 0;
  for (const name of FS_CALLS_FROM_SYSCALLS) {
    const original = FS[name];
    if (typeof original !== "function") continue;
    FS[name] = function (...args) {
      depth += 1;
      try {
        return original.apply(this, args);
      } catch (error) {
        if (depth === 1 && error?.name === "ErrnoError" && !error.esp32) {
          throw esp32Error(ESP32_ERRNO[error.errno] ?? error.errno);
        }
        throw error;
      } finally {
        depth -= 1;
      }
    };
  }
}

function makeDirs(nodeDir) {
  let current = "";
  for (const part of nodeDir.split("/").filter(Boolean)) {
    current += "/" + part;
    if (!FS.analyzePath(current).exists) FS.mkdir(current);
  }
}

function persistFile(p) {
  const data = FS.readFile(p);
  const tmp = path.join(config.tmpDir, "write-" + process.pid);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, hostPath(p)); // atomic: a power cut leaves the old or the new file
}

function loadTree(hostDir, nodeDir) {
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const nodePath = nodeDir === "/" ? "/" + entry.name : nodeDir + "/" + entry.name;
    const source = path.join(hostDir, entry.name);
    if (entry.isDirectory()) {
      FS.mkdirTree(nodePath);
      loadTree(source, nodePath);
    } else if (entry.isFile()) {
      FS.writeFile(nodePath, fs.readFileSync(source));
    }
  }
}

function wrap(name, before, after) {
  const original = FS[name];
  FS[name] = function (...args) {
    if (before) before(...args);
    const result = original.apply(this, args);
    if (after) after(result, ...args);
    return result;
  };
}

function installFilesystemHooks() {
  wrap("write", (stream, buffer, offset, length, position) => {
    if (!isPersisted(stream.path)) return;
    const size = FS.stat(stream.path).size;
    const start = (stream.flags & 1024) !== 0 ? size : (position ?? stream.position);
    ensureSpace(blocksFor(Math.max(size, start + length)) - blocksFor(size));
  });
  wrap("close", null, (result, stream) => {
    if (stream.path && isPersisted(stream.path) && (stream.flags & 3) !== 0 && FS.analyzePath(stream.path).exists) {
      persistFile(stream.path);
    }
  });
  wrap("mkdir", (p) => { if (isPersisted(absolute(p))) ensureSpace(2); },
    (result, p) => { if (isPersisted(absolute(p))) fs.mkdirSync(hostPath(absolute(p)), { recursive: true }); });
  wrap("unlink", null, (result, p) => { if (isPersisted(absolute(p))) fs.rmSync(hostPath(absolute(p)), { force: true }); });
  wrap("rmdir", null, (result, p) => {
    if (isPersisted(absolute(p))) fs.rmSync(hostPath(absolute(p)), { recursive: true, force: true });
  });
  wrap("rename", null, (result, from, to) => {
    const [a, b] = [absolute(from), absolute(to)];
    if (isPersisted(a) && isPersisted(b)) fs.renameSync(hostPath(a), hostPath(b));
  });
  // FS.open truncates with a node, not a path: that file is written back when it is closed.
  wrap("truncate", null, (result, p) => { if (typeof p === "string" && isPersisted(absolute(p))) persistFile(absolute(p)); });
  // The root lists only what a littlefs root would hold.
  const readdir = FS.readdir;
  FS.readdir = function (p) {
    const names = readdir.call(this, p);
    return absolute(p) === "/" ? names.filter((n) => !HIDDEN_ROOT_ENTRIES.has(n)) : names;
  };
  translateErrnos();
  FS.statfs = FS.statfsNode = () => {
    const used = usedBlocks();
    return {
      bsize: BLOCK_SIZE, frsize: BLOCK_SIZE, blocks: config.fsBlocks, bfree: config.fsBlocks - used,
      bavail: config.fsBlocks - used, files: 0, ffree: 0, fsid: 0, flags: 0, namelen: 255,
    };
  };
}

// ---- the vnode module and the app loop -------------------------------------------------------

let appTick = null;
let appTimer = null;
let appInput = [];
let resetRequested = false;

mp.registerJsModule("_vnode_host", {
  run: (tick) => {
    appTick = tick;
    scheduleApp();
  },
  pending: () => appInput.length,
  take: () => {
    const data = Uint8Array.from(appInput);
    appInput = [];
    return data;
  },
  reset: (cause) => {
    resetRequested = true;
    flushOut();
    sendJson("E", { event: "reset", cause: String(cause) });
  },
});

// An idle app is ticked every tickIntervalMs (an idle node should not eat a host core); after a
// tick that had work to do (longer than BUSY_TICK_MS) the next one follows as soon as the console
// has been serviced, so sensor FIFOs are drained as fast as the firmware can.
const BUSY_TICK_MS = 1;

function scheduleApp(busy = false) {
  if (appTimer === null && appTick !== null && !resetRequested) {
    appTimer = busy || config.tickIntervalMs <= 0 ? setImmediate(appStep) : setTimeout(appStep, config.tickIntervalMs);
  }
}

function appStep() {
  appTimer = null;
  if (appTick === null || resetRequested) return;
  const started = performance.now();
  try {
    appTick();
  } catch (error) {
    stopApp(error.type === "SystemExit" ? "" : pythonTraceback(error));
  }
  flushOut();
  scheduleApp(performance.now() - started > BUSY_TICK_MS);
}

function stopApp(message) {
  appTick = null;
  appInput = [];
  if (appTimer !== null) {
    clearTimeout(appTimer);
    clearImmediate(appTimer);
    appTimer = null;
  }
  print(message);
  mp.replInit();
}

function pythonTraceback(error) {
  if (error.name !== "PythonError") throw error;
  return error.message.replace(/\r?\n/g, "\r\n");
}

function runPython(code) {
  try {
    mp.runPython(code);
  } catch (error) {
    if (error.type !== "SystemExit") print(pythonTraceback(error));
  }
}

function runFileIfExists(name) {
  if (!resetRequested && FS.analyzePath("/" + name).exists) {
    runPython(`exec(compile(open(${JSON.stringify(name)}).read(), ${JSON.stringify(name)}, "exec"))`);
  }
}

// Boot as the ESP32 port does: boot.py, then main.py unless the raw REPL is active, then the REPL
// (which waits while an app registered with vnode.run is running).
function boot() {
  runFileIfExists("boot.py");
  if (!rawMode) runFileIfExists("main.py");
  if (resetRequested) return;
  if (appTick === null) mp.replInit();
  flushOut();
}

function softReset() {
  print("MPY: soft reboot\r\n");
  appTick = null;
  appInput = [];
  runPython("import vnode\nvnode._soft_reset()");
  boot();
}

// ---- serial input: app console, REPL, raw-paste ------------------------------------------------

// Raw-paste (Ctrl-E A Ctrl-A in the raw REPL) is done here because the port's own implementation
// reads stdin synchronously, which cannot work in a single-threaded bridge. The pasted code is fed
// to the raw REPL and answered in raw-paste framing, so clients get real flow control.
let paste = null; // null | {stage: 1 | 2} | {stage: 3, code: [], received: 0}
let rawLineEmpty = true;

function feedRepl(byte) {
  if (rawMode) rawLineEmpty = byte <= 4;
  const result = mp.replProcessChar(byte);
  if (result !== 0 && !resetRequested) softReset();
}

function finishPaste(code) {
  send("S", Buffer.from([4]));
  for (const byte of code) mp.replProcessChar(byte);
  suppressOk = 2;
  feedRepl(4);
}

function replInput(byte) {
  if (paste === null) {
    if (rawMode && rawLineEmpty && byte === 5) paste = { stage: 1 };
    else feedRepl(byte);
  } else if (paste.stage === 1) {
    if (byte === 0x41) paste.stage = 2;
    else { paste = null; feedRepl(5); feedRepl(byte); }
  } else if (paste.stage === 2) {
    if (byte === 1) {
      paste = { stage: 3, code: [], received: 0 };
      send("S", Buffer.from([0x52, 0x01, RAW_PASTE_WINDOW & 0xff, RAW_PASTE_WINDOW >> 8]));
    } else { paste = null; feedRepl(5); feedRepl(0x41); feedRepl(byte); }
  } else if (byte === 4) {
    const code = paste.code;
    paste = null;
    finishPaste(code);
  } else {
    paste.code.push(byte);
    paste.received += 1;
    if (paste.received === RAW_PASTE_WINDOW) {
      paste.received = 0;
      send("S", Buffer.from([1]));
    }
  }
}

function serialInput(data) {
  for (const byte of data) {
    if (resetRequested) return;
    if (appTick !== null) {
      if (byte === 3) stopApp("Traceback (most recent call last):\r\n  File \"main.py\"\r\nKeyboardInterrupt: \r\n");
      else appInput.push(byte);
    } else {
      replInput(byte);
    }
  }
  flushOut();
}

function simRun(request) {
  try {
    const runner = mp.pyimport("vnode")._sim_run;
    sendJson("R", { id: request.id, ok: true, value: runner(request.code, request.eval ? 1 : 0) });
  } catch (error) {
    if (error.name !== "PythonError") throw error;
    sendJson("R", { id: request.id, ok: false, error: error.message });
  }
  flushOut();
}

function putFile(payload) {
  const split = payload.indexOf(0);
  const nodePath = payload.subarray(0, split).toString("utf8");
  makeDirs(path.posix.dirname(nodePath));
  FS.writeFile(nodePath, payload.subarray(split + 1));
}

function start(cfg) {
  config = cfg;
  loadTree(config.fsDir, "/");
  installFilesystemHooks();
  runPython(
    `import sys\nsys.path.append("/.sim")\nimport vnode\nvnode._power_on(${BigInt(config.epochNs)}, ${config.speed})`,
  );
  boot();
  sendJson("E", { event: "ready" });
}

// ---- frame reader ------------------------------------------------------------------------------

let pending = Buffer.alloc(0);
process.stdin.on("data", (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 5) {
    const length = pending.readUInt32LE(1);
    if (pending.length < 5 + length) break;
    const type = String.fromCharCode(pending[0]);
    const payload = pending.subarray(5, 5 + length);
    pending = pending.subarray(5 + length);
    if (type === "S") serialInput(payload);
    else if (type === "F") putFile(payload);
    else if (type === "C") start(JSON.parse(payload.toString("utf8")));
    else if (type === "X") simRun(JSON.parse(payload.toString("utf8")));
  }
});
process.stdin.on("end", () => process.exit(0));
