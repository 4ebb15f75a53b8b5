// Compiles the contracts offline with the pinned solc-js and writes one JSON artifact (ABI and
// bytecode) per contract. Usage: node build.js [OUT_DIR]   (default: ./build)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const HERE = __dirname;
const NODE_MODULES = path.join(HERE, "node_modules");
// Source file -> artifact path under OUT_DIR; test contracts go to test/, apart from the app's.
const SOURCES = {
  "RoyaltyMirror.sol": "RoyaltyMirror.json",
  "test/MockUSDC.sol": "test/MockUSDC.json",
  "test/ReentrantToken.sol": "test/ReentrantToken.json",
};
const SETTINGS = {
  // py-evm (eth-tester) knows no later fork than prague.
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

// Imports resolve only inside node_modules, so the build reads nothing else from the machine.
function findImports(importPath) {
  const resolved = path.resolve(NODE_MODULES, importPath);
  if (!resolved.startsWith(NODE_MODULES + path.sep)) {
    return { error: `import outside node_modules: ${importPath}` };
  }
  try {
    return { contents: fs.readFileSync(resolved, "utf8") };
  } catch (err) {
    return { error: `cannot read ${importPath}: ${err.message}` };
  }
}

function main() {
  const outDir = path.resolve(process.argv[2] || path.join(HERE, "build"));
  const sources = {};
  for (const name of Object.keys(SOURCES)) {
    sources[name] = { content: fs.readFileSync(path.join(HERE, name), "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const problems = output.errors || [];
  for (const problem of problems) {
    process.stderr.write(problem.formattedMessage || problem.message);
  }
  if (problems.some((p) => p.severity === "error")) {
    process.exit(1);
  }
  for (const [name, artifact] of Object.entries(SOURCES)) {
    const contractName = path.basename(name, ".sol");
    const compiled = output.contracts[name][contractName];
    const record = {
      contractName,
      sourceName: name,
      compiler: { solc: solc.version(), settings: { evmVersion: SETTINGS.evmVersion,
        optimizer: SETTINGS.optimizer } },
      abi: compiled.abi,
      bytecode: "0x" + compiled.evm.bytecode.object,
      deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
    };
    const target = path.join(outDir, artifact);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, JSON.stringify(record, null, 2) + "\n");
  }
}

main();
