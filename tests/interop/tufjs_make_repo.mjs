// Builds and signs a complete TUF repository with @tufjs/models only (an
// implementation independent of Atrium's), in the layout Atrium's repository
// uses, so Atrium's TUF client can be tested against it.
//
// Install convention (shared by every script in tests/interop/):
//   ./dev installs the pinned packages of tests/interop/package-lock.json into
//   <builddir>/interop/node_modules. The scripts stay in the source tree and are
//   given that folder with --modules; they load the packages from there only.
//     node <source>/tests/interop/tufjs_make_repo.mjs \
//       --modules <builddir>/interop/node_modules --out DIR --target FILE=PATH
//
// Arguments:
//   --modules DIR            <builddir>/interop/node_modules (required)
//   --out DIR                repository to create; DIR/metadata must not exist
//   --target FILE=PATH       local file FILE published as target path PATH
//                            (repeatable; FILE must not contain '=')
//   --custom PATH=JSON       the target's "custom" object (repeatable)
//   --expires-days N         expiry of every role, days from now (default 30)
//   --expire ROLE            ROLE's expires lies in the past (repeatable)
//   --under-threshold ROLE   ROLE's threshold is max(2, its threshold) but it
//                            carries one signature less (repeatable); for root
//                            this applies to the newest root version
//   --root-threshold K       root role threshold (default 1)
//   --root-keys N            number of root keys (default max(K, 1)); all sign
//   --rotate-root            also write 2.root.json with new root keys (same
//                            count and threshold), signed by old and new keys
//
// Layout written (consistent snapshots):
//   DIR/metadata/1.root.json [2.root.json] timestamp.json 1.snapshot.json
//                1.targets.json        (no unversioned root.json)
//   DIR/targets/<dir>/<sha256 hex>.<name>   for target path <dir>/<name>
//   DIR/keys/<role>-<n>.pem              PKCS#8 private keys, never served
// Keys are ed25519, keyval.public = hex of the raw 32-byte key, key id = hex
// SHA-256 of the canonical JSON of {keytype, keyval, scheme}. Metadata files are
// written pretty-printed (2-space indent): signatures cover the canonical form.
//
// Output on stdout: {"root":"<DIR>/metadata/1.root.json"} (DIR made absolute).
// On error: {"ok":false,"error":"<class>: <message>"} and exit status 1.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

class UsageError extends Error {}

const ROLES = ['root', 'timestamp', 'snapshot', 'targets'];

function loadModules(modulesDir) {
  const dir = path.resolve(modulesDir);
  const req = createRequire(path.join(dir, '..', 'package.json'));
  const load = (name) => {
    let file;
    try {
      file = req.resolve(name);
    } catch {
      throw new UsageError(`${name} is not installed in ${dir} (./dev installs it)`);
    }
    if (!file.startsWith(dir + path.sep)) {
      throw new UsageError(`${name} resolved outside ${dir}: ${file}`);
    }
    return req(name);
  };
  return { models: load('@tufjs/models'), cj: load('@tufjs/canonical-json') };
}

function parseArgs(argv) {
  const opts = {
    modules: null, out: null, targets: [], custom: new Map(), expiresDays: 30,
    expire: new Set(), underThreshold: new Set(), rootThreshold: 1,
    rootKeys: null, rotateRoot: false,
  };
  const splitEq = (flag, v) => {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new UsageError(`${flag} needs A=B, got '${v}'`);
    return [v.slice(0, i), v.slice(i + 1)];
  };
  const role = (flag, v) => {
    if (!ROLES.includes(v)) throw new UsageError(`${flag}: unknown role '${v}'`);
    return v;
  };
  const int = (flag, v, min) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} needs an integer >= ${min}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--rotate-root') { opts.rotateRoot = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    switch (flag) {
      case '--modules': opts.modules = v; break;
      case '--out': opts.out = v; break;
      case '--target': {
        const [file, target] = splitEq(flag, v);
        opts.targets.push({ file, target });
        break;
      }
      case '--custom': {
        const [target, json] = splitEq(flag, v);
        let value;
        try { value = JSON.parse(json); } catch (e) { throw new UsageError(`--custom ${target}: ${e.message}`); }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          throw new UsageError(`--custom ${target}: not a JSON object`);
        }
        opts.custom.set(target, value);
        break;
      }
      case '--expires-days': opts.expiresDays = int(flag, v, 0); break;
      case '--expire': opts.expire.add(role(flag, v)); break;
      case '--under-threshold': opts.underThreshold.add(role(flag, v)); break;
      case '--root-threshold': opts.rootThreshold = int(flag, v, 1); break;
      case '--root-keys': opts.rootKeys = int(flag, v, 1); break;
      default: throw new UsageError(`unknown argument '${flag}'`);
    }
  }
  if (!opts.modules) throw new UsageError('--modules is required');
  if (!opts.out) throw new UsageError('--out is required');
  if (opts.targets.length === 0) throw new UsageError('at least one --target is required');
  const paths = new Set(opts.targets.map((t) => t.target));
  if (paths.size !== opts.targets.length) throw new UsageError('duplicate target path');
  for (const p of opts.custom.keys()) {
    if (!paths.has(p)) throw new UsageError(`--custom for unknown target '${p}'`);
  }
  for (const { target } of opts.targets) {
    const parts = target.split('/');
    if (target.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..')) {
      throw new UsageError(`bad target path '${target}'`);
    }
  }
  opts.rootKeys ??= opts.rootThreshold;
  if (opts.rootKeys < opts.rootThreshold) throw new UsageError('--root-keys is below --root-threshold');
  return opts;
}

// TUF date-time: UTC, whole seconds.
const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

function main(argv) {
  const opts = parseArgs(argv);
  const { models, cj } = loadModules(opts.modules);
  const { Metadata, Root, Targets, Snapshot, Timestamp, Key, TargetFile, MetaFile, Signature } = models;

  const out = path.resolve(opts.out);
  const metaDir = path.join(out, 'metadata');
  const targetsDir = path.join(out, 'targets');
  const keysDir = path.join(out, 'keys');
  if (fs.existsSync(metaDir)) throw new UsageError(`${metaDir} already exists`);
  for (const d of [metaDir, targetsDir, keysDir]) fs.mkdirSync(d, { recursive: true });

  const now = Date.now();
  const expires = (roleName) => (opts.expire.has(roleName)
    ? isoSeconds(now - 24 * 3600 * 1000)
    : isoSeconds(now + opts.expiresDays * 24 * 3600 * 1000));

  // Keys: ed25519 pairs with spec key ids; private halves only in DIR/keys.
  let keyCount = 0;
  const newKey = (label) => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const keyJson = { keytype: 'ed25519', keyval: { public: raw.toString('hex') }, scheme: 'ed25519' };
    const keyID = sha256(Buffer.from(cj.canonicalize(keyJson)));
    const file = path.join(keysDir, `${label}-${++keyCount}.pem`);
    fs.writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const key = new Key({ keyID, keyType: keyJson.keytype, scheme: keyJson.scheme, keyVal: keyJson.keyval });
    return { key, privateKey };
  };
  const signWith = (md, signers) => {
    for (const s of signers) {
      md.sign((bytes) => new Signature({
        keyID: s.key.keyID,
        sig: crypto.sign(null, bytes, s.privateKey).toString('hex'),
      }));
    }
  };

  // Per role: how many keys, the threshold, how many of the keys sign.
  const plan = (keys, threshold, under) => {
    if (under) {
      threshold = Math.max(2, threshold);
      keys = Math.max(keys, threshold);
      return { keys, threshold, signers: threshold - 1 };
    }
    return { keys, threshold, signers: keys };
  };
  const plans = {
    root: plan(opts.rootKeys, opts.rootThreshold, opts.underThreshold.has('root')),
    timestamp: plan(1, 1, opts.underThreshold.has('timestamp')),
    snapshot: plan(1, 1, opts.underThreshold.has('snapshot')),
    targets: plan(1, 1, opts.underThreshold.has('targets')),
  };
  // With --rotate-root, an under-threshold root is 2.root.json, not 1.root.json.
  const firstRootPlan = opts.rotateRoot ? plan(opts.rootKeys, opts.rootThreshold, false) : plans.root;
  const roleKeys = {};
  for (const r of ROLES) {
    const n = r === 'root' ? firstRootPlan.keys : plans[r].keys;
    roleKeys[r] = Array.from({ length: n }, () => newKey(r));
  }

  // Root metadata: new Root() makes the four roles (threshold 1); thresholds
  // are then set through Root.fromJSON, the models' own parser.
  const makeRoot = (version, rootSigners, rootThreshold) => {
    const root = new Root({ version, specVersion: '1.0.31', expires: expires('root'), consistentSnapshot: true });
    for (const r of ROLES) {
      for (const k of r === 'root' ? rootSigners : roleKeys[r]) root.addKey(k.key, r);
    }
    const json = root.toJSON();
    for (const r of ROLES) json.roles[r].threshold = r === 'root' ? rootThreshold : plans[r].threshold;
    return Root.fromJSON(json);
  };
  const writeMeta = (name, md) => {
    const bytes = Buffer.from(JSON.stringify(md.toJSON(), null, 2) + '\n');
    fs.writeFileSync(path.join(metaDir, name), bytes);
    return bytes;
  };

  const root1 = new Metadata(makeRoot(1, roleKeys.root, firstRootPlan.threshold));
  signWith(root1, roleKeys.root.slice(0, firstRootPlan.signers));
  writeMeta('1.root.json', root1);
  if (opts.rotateRoot) {
    const newRootKeys = Array.from({ length: plans.root.keys }, () => newKey('root'));
    const root2 = new Metadata(makeRoot(2, newRootKeys, plans.root.threshold));
    signWith(root2, roleKeys.root);
    signWith(root2, newRootKeys.slice(0, plans.root.signers));
    writeMeta('2.root.json', root2);
  }

  // Targets: stored as targets/<dir>/<sha256>.<name> (consistent snapshots).
  const targets = new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires: expires('targets') }));
  for (const { file, target } of opts.targets) {
    const bytes = fs.readFileSync(file);
    const hash = sha256(bytes);
    const custom = opts.custom.get(target);
    targets.signed.addTarget(new TargetFile({
      path: target,
      length: bytes.length,
      hashes: { sha256: hash },
      unrecognizedFields: custom ? { custom } : {},
    }));
    const { dir, base } = path.posix.parse(target);
    const stored = path.join(targetsDir, ...(dir ? dir.split('/') : []), `${hash}.${base}`);
    fs.mkdirSync(path.dirname(stored), { recursive: true });
    fs.writeFileSync(stored, bytes);
  }
  signWith(targets, roleKeys.targets.slice(0, plans.targets.signers));
  const targetsBytes = writeMeta('1.targets.json', targets);

  const metaFile = (bytes) => new MetaFile({ version: 1, length: bytes.length, hashes: { sha256: sha256(bytes) } });
  const snapshot = new Metadata(new Snapshot({
    version: 1, specVersion: '1.0.31', expires: expires('snapshot'),
    meta: { 'targets.json': metaFile(targetsBytes) },
  }));
  signWith(snapshot, roleKeys.snapshot.slice(0, plans.snapshot.signers));
  const snapshotBytes = writeMeta('1.snapshot.json', snapshot);

  const timestamp = new Metadata(new Timestamp({
    version: 1, specVersion: '1.0.31', expires: expires('timestamp'),
    snapshotMeta: metaFile(snapshotBytes),
  }));
  signWith(timestamp, roleKeys.timestamp.slice(0, plans.timestamp.signers));
  writeMeta('timestamp.json', timestamp);

  return { root: path.join(metaDir, '1.root.json') };
}

try {
  process.stdout.write(JSON.stringify(main(process.argv.slice(2))) + '\n');
} catch (err) {
  const name = err?.constructor?.name ?? 'Error';
  process.stdout.write(JSON.stringify({ ok: false, error: `${name}: ${err?.message ?? err}` }) + '\n');
  process.exitCode = 1;
}
