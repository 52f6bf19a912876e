#!/usr/bin/env node
// A stand-in for the native `solc` binary, backed by solc-js (npm `solc`), for `forge --use`.
//
// Forge runs `<solc> --version` to learn the compiler version, and `<solc> --standard-json
// [--base-path P] [--include-path P]... [--allow-paths P,...]` with the standard-JSON input on
// stdin. We answer both the way the native binary does. Sources normally arrive with their
// content; the import callback is a fallback that resolves from the base path, the include
// paths and the repository's node_modules.
'use strict';

const fs = require('fs');
const path = require('path');

const repoRoot = path.resolve(__dirname, '..', '..');
const solc = require(path.join(repoRoot, 'node_modules', 'solc'));

function nativeStyleVersion() {
  // solc-js reports e.g. "0.8.37+commit.f401782d.Emscripten.clang"; forge parses the last line
  // after "Version: " as semver, which this form satisfies.
  return solc.version();
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: process.cwd(), includePaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const takeValue = () => {
      const eq = arg.indexOf('=');
      return eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    };
    if (arg === '--version' || arg === '-v') opts.version = true;
    else if (arg === '--standard-json') opts.standardJson = true;
    else if (arg.startsWith('--base-path')) opts.basePath = takeValue();
    else if (arg.startsWith('--include-path')) opts.includePaths.push(takeValue());
    else if (arg.startsWith('--allow-paths')) takeValue();
    // other flags (e.g. --no-import-callback) need no action here
  }
  return opts;
}

function makeImportCallback(opts) {
  const roots = [opts.basePath, ...opts.includePaths, path.join(repoRoot, 'node_modules'), repoRoot];
  return function findImport(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.resolve(root, importPath));
    for (const candidate of candidates) {
      try {
        return { contents: fs.readFileSync(candidate, 'utf8') };
      } catch (_) {
        /* try the next root */
      }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(
      `solc, the solidity compiler commandline interface\nVersion: ${nativeStyleVersion()}\n`,
    );
    return 0;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
    return 2;
  }
  const input = fs.readFileSync(0, 'utf8');
  // solc-js may log (e.g. about a missing SMT solver) on stdout; keep stdout for the JSON alone.
  const log = console.log;
  console.log = (...args) => console.error(...args);
  let output;
  try {
    output = solc.compile(input, { import: makeImportCallback(opts) });
  } finally {
    console.log = log;
  }
  const start = output.indexOf('{');
  process.stdout.write(start > 0 ? output.slice(start) : output);
  return 0;
}

process.exitCode = main();
