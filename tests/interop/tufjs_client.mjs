// Drives tuf-js's Updater (an implementation independent of Atrium's) as a
// client of a TUF repository, e.g. one served by `atrium serve`.
//
// Install convention (shared by every script in tests/interop/):
//   ./dev installs the pinned packages of tests/interop/package-lock.json into
//   <builddir>/interop/node_modules. The scripts stay in the source tree and are
//   given that folder with --modules; they load the packages from there only.
//     node <source>/tests/interop/tufjs_client.mjs \
//       --modules <builddir>/interop/node_modules \
//       --metadata-url URL/metadata --target-url URL/targets \
//       --metadata-dir D --target-dir TD --root REPO/metadata/1.root.json \
//       --target a/b/name.ext
//
// Arguments:
//   --modules DIR        <builddir>/interop/node_modules (required)
//   --metadata-url U     metadata base URL (required)
//   --target-url T       target base URL (required)
//   --metadata-dir D     client's metadata store; ROOTFILE is copied to
//                        D/root.json when D has none (created if missing)
//   --target-dir TD      where targets land (created if missing)
//   --root ROOTFILE      trusted root shipped out of band (required)
//   --target PATH        target path to fetch (repeatable, optional)
//
// Does Updater.refresh(), then per --target getTargetInfo, findCachedTarget
// and, when there is no valid cached copy, downloadTarget (tuf-js names the
// file TD/encodeURIComponent(PATH)).
//
// Output: one JSON object on stdout, nothing else there.
//   {"ok":true,"trusted":{"root":N,"timestamp":N,"snapshot":N,"targets":N},
//    "targets":[{"path":P,"file":LOCALPATH,"length":N,"sha256":HEX,
//                "custom":{...},"cached":BOOL}]}
// "trusted" is the version of each role in tuf-js's trusted set; "sha256" is
// computed here over the local file; "cached" tells whether findCachedTarget
// found a valid copy (no download).
// On any error: {"ok":false,"error":"<class name>: <message>"}, exit status 1.
// tuf-js logs to stderr with DEBUG='tuf:*'.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

class UsageError extends Error {}
class TargetNotFoundError extends Error {}

function loadTufJs(modulesDir) {
  const dir = path.resolve(modulesDir);
  const req = createRequire(path.join(dir, '..', 'package.json'));
  let file;
  try {
    file = req.resolve('tuf-js');
  } catch {
    throw new UsageError(`tuf-js is not installed in ${dir} (./dev installs it)`);
  }
  if (!file.startsWith(dir + path.sep)) {
    throw new UsageError(`tuf-js resolved outside ${dir}: ${file}`);
  }
  return req('tuf-js');
}

function parseArgs(argv) {
  const opts = { targets: [] };
  const names = {
    '--modules': 'modules', '--metadata-url': 'metadataUrl', '--target-url': 'targetUrl',
    '--metadata-dir': 'metadataDir', '--target-dir': 'targetDir', '--root': 'root',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--target') opts.targets.push(v);
    else if (names[flag]) opts[names[flag]] = v;
    else throw new UsageError(`unknown argument '${flag}'`);
  }
  for (const [flag, key] of Object.entries(names)) {
    if (!opts[key]) throw new UsageError(`${flag} is required`);
  }
  return opts;
}

async function sha256File(file) {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

async function main(argv) {
  const opts = parseArgs(argv);
  const { Updater } = loadTufJs(opts.modules);

  fs.mkdirSync(opts.metadataDir, { recursive: true });
  fs.mkdirSync(opts.targetDir, { recursive: true });
  const trustedRoot = path.join(opts.metadataDir, 'root.json');
  if (!fs.existsSync(trustedRoot)) fs.copyFileSync(opts.root, trustedRoot);

  const updater = new Updater({
    metadataDir: opts.metadataDir,
    metadataBaseUrl: opts.metadataUrl,
    targetDir: opts.targetDir,
    targetBaseUrl: opts.targetUrl,
  });
  await updater.refresh();

  const targets = [];
  for (const targetPath of opts.targets) {
    const info = await updater.getTargetInfo(targetPath);
    if (!info) throw new TargetNotFoundError(`no such target '${targetPath}'`);
    let file = await updater.findCachedTarget(info);
    const cached = Boolean(file);
    if (!cached) file = await updater.downloadTarget(info);
    targets.push({
      path: info.path,
      file: path.resolve(file),
      length: info.length,
      sha256: await sha256File(file),
      custom: info.custom,
      cached,
    });
  }

  // The Updater keeps its verified metadata in `trustedSet` (a TypeScript
  // private, plain property at run time; the version is pinned).
  const set = updater.trustedSet;
  const trusted = {};
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    trusted[role] = set?.[role]?.signed?.version ?? null;
  }
  return { ok: true, trusted, targets };
}

try {
  const result = await main(process.argv.slice(2));
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (err) {
  const name = err?.constructor?.name ?? 'Error';
  process.stdout.write(JSON.stringify({ ok: false, error: `${name}: ${err?.message ?? err}` }) + '\n');
  process.exitCode = 1;
}
