// The demo's hand-written SVG charts.
import { describe, expect, it } from 'vitest';
import { barChart, lineChart, niceTicks, viridis } from '../demo/src/charts.js';

describe('demo charts', () => {
  it('niceTicks covers the range with round steps', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(2.1, 3.3, 5)).toEqual([2.25, 2.5, 2.75, 3, 3.25]);
  });

  it('lineChart maps the data into the plot and escapes labels', () => {
    const svg = lineChart({
      width: 400,
      height: 200,
      series: [{ label: 'a<b', color: '#000', points: [[0, 0], [10, 1], [20, NaN]] }],
      xLabel: 'x',
      yLabel: 'y',
      xDomain: [0, 10],
      yDomain: [0, 1],
      legend: false,
    });
    // plot box: left 52, right 400 - 12, top 10, bottom 200 - 36
    expect(svg).toContain('d="M52.0 164.0L388.0 10.0"');
    expect(svg).not.toContain('a<b');
    const again = lineChart({ width: 400, height: 200, series: [], xLabel: 'x', yLabel: 'y' });
    const id = (s: string) => /clipPath id="([^"]+)"/.exec(s)![1];
    expect(id(svg)).not.toBe(id(again));
  });

  it('barChart widths are proportional to the values', () => {
    const svg = barChart([{ label: 's', values: [{ name: 'a', value: 1, color: '#000' }, { name: 'b', value: 0.5, color: '#000' }] }], { width: 600, xLabel: 'x' });
    const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(2);
    expect(widths[1] / widths[0]).toBeCloseTo(0.5, 2);
  });

  it('viridis runs from dark purple to yellow', () => {
    expect(viridis(0)).toEqual([68, 1, 84]);
    expect(viridis(1)).toEqual([253, 231, 37]);
    expect(viridis(NaN)).toEqual([68, 1, 84]);
  });
});
