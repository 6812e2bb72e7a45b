#!/usr/bin/env node
// Re-renders <base>.md and <base>.svg from <base>.json without re-running the
// benchmark (after a change to the report's layout):
//   node bench/render.mjs [bench/results/latest]
import { readFile, writeFile } from 'node:fs/promises';
import { renderMarkdown, renderSummary } from './lib/report-md.mjs';
import { renderSvg } from './lib/report-svg.mjs';

const base = process.argv[2] ?? 'bench/results/latest';
const report = JSON.parse(await readFile(`${base}.json`, 'utf8'));
await writeFile(`${base}.md`, renderMarkdown(report));
await writeFile(`${base}.svg`, renderSvg(report));
console.log(renderSummary(report));
console.log(`\nbench: wrote ${base}.md and ${base}.svg`);
