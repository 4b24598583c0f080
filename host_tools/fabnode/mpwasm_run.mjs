// Run one MicroPython job under the official WebAssembly port.
// stdin: JSON {heapsize, files: {"/lib/x.py": base64}, steps: [code, ...]}. Each step is a separate
// top-level run in the same interpreter (this port's gc.collect() reclaims only at the start of a
// run). The job's stdout is passed through; an uncaught exception is printed to stderr as
// MicroPython's traceback and exits with status 1.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const runtimeDir = process.argv[2];
const { loadMicroPython } = await import(pathToFileURL(join(runtimeDir, "micropython.mjs")).href);
const job = JSON.parse(readFileSync(0, "utf8"));
const mp = await loadMicroPython({
  heapsize: job.heapsize,
  linebuffer: false,
  stdout: (bytes) => process.stdout.write(bytes),
  stderr: (bytes) => process.stderr.write(bytes),
});
for (const [path, b64] of Object.entries(job.files)) {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) mp.FS.mkdirTree(dir);
  mp.FS.writeFile(path, Buffer.from(b64, "base64"));
}
for (const code of job.steps) {
  try {
    mp.runPython(code);
  } catch (error) {
    if (error.name !== "PythonError") throw error;
    if (error.type !== "SystemExit") {
      process.stderr.write(error.message);
      process.exitCode = 1;
    }
    break;
  }
}
