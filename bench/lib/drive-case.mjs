// One case of the benchmark, driven from Node one backend call at a time
// (bench/page/main.ts: openCase, checkBackend, callBackend, dropBackend,
// closeCase), so that no single page.evaluate lasts longer than one call: a
// whole full-size gated case with every backend took over 10 minutes in one
// evaluate and outran puppeteer's protocol timeout. Order per case:
//   1. every backend's first gradients call, checked against the CPU reference
//      (library-cpu first: its result is the reference);
//   2. one warm-up call per mode;
//   3. the timed runs, interleaved (run k of every backend, then run k+1, the
//      starting backend rotated), so drift in the machine's load falls on all.
// Time stays predictable: a backend whose warm call exceeds spec.slowCallMs
// gets spec.slowRuns timed runs (fewerRuns says so in the report); one over
// spec.maxCallMs is not timed at all (skipped, with the reason); the others'
// runs shrink (not below minRuns) to fit spec.budgetMs. The result has the
// shape the page's runCase used to return (bench/page/types.ts RnnCaseResult).

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;

/** An engine that refuses the model itself (a BpttInputError naming `model`): a build without that feature, not a failure. */
const refusesModel = (c) => c.errorArgument === 'model';

/**
 * Runs `spec` in the bench page `page` and returns its raw result.
 * progress(line): one line per call, as it happens.
 */
export async function driveCase(page, spec, progress) {
  const start = Date.now();
  const call = (fn, ...a) => page.evaluate(fn, ...a);
  await call((s) => window.bench.openCase(s), spec);
  const result = { id: spec.id, runsUsed: 0, elapsedMs: 0, backends: {} };
  const live = []; // backends checked, warmed up and timed
  const warmMs = new Map(); // backend -> its warm calls' total ms (one of each mode)
  const modesOf = new Map(); // backend -> the modes it has a call for
  try {
    const order = ['library-cpu', ...spec.backends.filter((b) => b !== 'library-cpu')];
    for (const id of order) {
      const timedHere = spec.backends.includes(id);
      const r = { times: {} };
      if (timedHere) result.backends[id] = r;
      if (timedHere && spec.skip?.[id]) {
        r.skipped = spec.skip[id];
        progress(`  ${spec.id} ${id}: skipped: ${r.skipped}`);
        continue;
      }
      const c = await call((b) => window.bench.checkBackend(b), id);
      if (c.error) {
        if (refusesModel(c)) {
          r.skipped = `the engine refuses this model: ${c.error}`;
          r.refused = true;
          progress(`  ${spec.id} ${id}: skipped: ${r.skipped}`);
        } else {
          r.error = c.error;
          progress(`  ${spec.id} ${id}: ERROR ${c.error}`);
        }
        continue;
      }
      Object.assign(r, { checkedCallMs: c.checkedCallMs, check: c.check, about: c.about });
      if (c.stats) r.stats = { gradients: c.stats };
      const verdict = c.check ? (c.check.ok ? `matches the CPU reference (worst ${c.check.worst.toFixed(3)})` : `MISMATCH: ${c.check.mismatches[0]}`) : 'reference';
      progress(`  ${spec.id} ${id}: checked call ${fmt(c.checkedCallMs)}, ${verdict}${c.about ? `; ${c.about}` : ''}`);
      const drop = () => call((b) => window.bench.dropBackend(b), id);
      if (!timedHere) {
        await drop();
        continue;
      }
      // Too slow to time at all: the checked call (which also compiles) against 3x the limit, a warm call against it.
      const tooSlow = async (ms, limit, what) => {
        if (ms <= limit) return false;
        r.skipped = `${what} took ${fmt(ms)}, over the ${fmt(limit)} limit per call`;
        progress(`  ${spec.id} ${id}: not timed: ${r.skipped}`);
        await drop();
        return true;
      };
      if (await tooSlow(c.checkedCallMs, 3 * spec.maxCallMs, 'the checked call')) continue;
      try {
        let total = 0;
        let slowest = 0;
        const modes = [];
        for (const mode of spec.modes) {
          let ms = null;
          for (let w = 0; w < Math.max(1, spec.warmup); w++) {
            const t = await call((b, m) => window.bench.callBackend(b, m), id, mode);
            ms = t.ms;
            if (ms === null) break; // no call for this mode (forward: this library's engines only)
            if (mode === 'step' && t.stats) r.stats = { ...r.stats, step: t.stats };
          }
          if (ms === null) continue;
          progress(`  ${spec.id} ${id} ${mode} warm-up: ${fmt(ms)}`);
          modes.push(mode);
          total += ms;
          slowest = Math.max(slowest, ms);
        }
        if (await tooSlow(slowest, spec.maxCallMs, 'a warm call')) continue;
        warmMs.set(id, total);
        modesOf.set(id, modes);
        if (spec.slowCallMs && slowest > spec.slowCallMs) {
          r.slowRuns = spec.slowRuns ?? 1;
          r.fewerRuns = `a warm call took ${fmt(slowest)}, over the ${fmt(spec.slowCallMs)} cap: ${r.slowRuns} timed run${r.slowRuns === 1 ? '' : 's'}`;
        }
        live.push(id);
      } catch (e) {
        r.error = String(e.message ?? e);
        progress(`  ${spec.id} ${id}: ERROR ${r.error}`);
        await drop().catch(() => {});
      }
    }

    // The fast backends' runs fit the budget (judged on their warm calls); the slow ones get slowRuns.
    const fast = live.filter((id) => !result.backends[id].slowRuns);
    const fastMs = fast.reduce((s, id) => s + warmMs.get(id), 0);
    const fit = fastMs > 0 ? Math.floor(spec.budgetMs / fastMs) : spec.runs;
    const runs = Math.max(spec.minRuns, Math.min(spec.runs, fit));
    result.runsUsed = runs;
    for (const id of live) {
      const r = result.backends[id];
      if (r.slowRuns) r.slowRuns = Math.min(r.slowRuns, runs);
      if (r.fewerRuns) r.fewerRuns += ` instead of ${runs}`;
    }
    const runsOf = (id) => result.backends[id].slowRuns ?? runs;
    const predicted = live.reduce((s, id) => s + warmMs.get(id) * runsOf(id), 0);
    if (runs < spec.runs) progress(`  ${spec.id}: ${runs} timed runs instead of ${spec.runs} (about ${fmt(fastMs)} a run, budget ${fmt(spec.budgetMs)})`);
    for (const id of live) if (result.backends[id].fewerRuns) progress(`  ${spec.id} ${id}: ${result.backends[id].fewerRuns}`);
    progress(`  ${spec.id}: timed runs predicted to take ${mmss(predicted / 1000)}`);

    for (let k = 0; k < runs; k++) {
      const ids = live.filter((id) => k < runsOf(id));
      const rotated = ids.slice(k % ids.length).concat(ids.slice(0, k % ids.length)); // no backend always first
      for (const id of rotated) {
        const r = result.backends[id];
        if (r.error) continue;
        try {
          for (const mode of modesOf.get(id)) {
            const t = await call((b, m) => window.bench.callBackend(b, m), id, mode);
            (r.times[mode] ??= []).push(t.ms);
            progress(`  ${spec.id} ${id} ${mode} run ${k + 1}/${runsOf(id)}: ${fmt(t.ms)}`);
          }
        } catch (e) {
          r.error = String(e.message ?? e);
          progress(`  ${spec.id} ${id}: ERROR ${r.error}`);
          await call((b) => window.bench.dropBackend(b), id).catch(() => {});
        }
      }
    }
  } finally {
    await call(() => window.bench.closeCase()).catch(() => {});
  }
  for (const r of Object.values(result.backends)) delete r.slowRuns;
  result.elapsedMs = Date.now() - start;
  return result;
}
