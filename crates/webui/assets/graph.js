// The job graph: a layered, left-to-right layout of a plan's nodes (job
// vertices) and their inputs, drawn as SVG markup.
//
// Layout, kept deliberately simple: a node's layer is the length of the longest
// path from a source to it, so every edge points right; within a layer nodes are
// ordered by the mean row of their inputs, which keeps chains straight and
// avoids most crossings for the shapes streaming jobs have. Layers are centred
// vertically on the tallest one.
'use strict';

window.RunnelGraph = (function () {
  const BOX = { w: 280, h: 98 };
  const GAP = { x: 120, y: 40 };
  const PAD = 24;

  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  // Longest-path layer of every node; a cycle (a malformed plan) is cut rather
  // than followed forever.
  function layers(nodes) {
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const layerOf = new Map();
    const visiting = new Set();
    function depth(id) {
      if (layerOf.has(id)) return layerOf.get(id);
      if (visiting.has(id)) return 0;
      visiting.add(id);
      let d = 0;
      for (const input of byId.get(id).inputs || []) {
        if (byId.has(input.id)) d = Math.max(d, depth(input.id) + 1);
      }
      visiting.delete(id);
      layerOf.set(id, d);
      return d;
    }
    nodes.forEach((n) => depth(n.id));
    const result = [];
    nodes.forEach((n) => (result[layerOf.get(n.id)] ||= []).push(n));
    return result.filter(Boolean);
  }

  // Positions (top-left corners) of every node and the size of the drawing.
  function layout(nodes) {
    const byLayer = layers(nodes);
    const row = new Map();
    for (const layer of byLayer) {
      const key = new Map(layer.map((n, i) => {
        const rows = (n.inputs || []).filter((x) => row.has(x.id)).map((x) => row.get(x.id));
        return [n.id, rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : i];
      }));
      layer.sort((a, b) => key.get(a.id) - key.get(b.id));
      layer.forEach((n, i) => row.set(n.id, i));
    }
    const tallest = Math.max(1, ...byLayer.map((l) => l.length));
    const pos = new Map();
    byLayer.forEach((layer, l) => {
      const offset = ((tallest - layer.length) * (BOX.h + GAP.y)) / 2;
      layer.forEach((n, i) => pos.set(n.id, {
        x: PAD + l * (BOX.w + GAP.x),
        y: PAD + offset + i * (BOX.h + GAP.y),
      }));
    });
    return {
      pos,
      width: 2 * PAD + byLayer.length * BOX.w + Math.max(0, byLayer.length - 1) * GAP.x,
      height: 2 * PAD + tallest * BOX.h + (tallest - 1) * GAP.y,
    };
  }

  function edge(from, to, strategy) {
    const x1 = from.x + BOX.w, y1 = from.y + BOX.h / 2;
    const x2 = to.x, y2 = to.y + BOX.h / 2;
    const mx = (x1 + x2) / 2;
    return `<g class="edge"><path d="M${x1} ${y1} C${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}" marker-end="url(#arrow)"/>` +
      `<text class="edge-label" x="${mx}" y="${(y1 + y2) / 2 - 7}" text-anchor="middle">${esc(strategy)}</text></g>`;
  }

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }

  // One vertex: `v` carries display strings {id, name, detail, parallelism,
  // recordsIn, recordsOut, backpressure: 'ok'|'low'|'high'|''}.
  function vertex(v, p) {
    const level = (v.backpressure || '').toLowerCase();
    const badge = level ? level.toUpperCase() : '?';
    const cls = ['ok', 'low', 'high'].includes(level) ? level : 'unknown';
    return `<g class="vertex bp-${cls}" data-vertex="${esc(v.id)}" transform="translate(${p.x},${p.y})">` +
      `<title>${esc(v.detail || v.name)}</title>` +
      `<rect class="box" width="${BOX.w}" height="${BOX.h}" rx="6"/>` +
      `<text class="name" x="12" y="22">${esc(clip(v.name, 34))}</text>` +
      `<text x="12" y="45">Parallelism: ${esc(v.parallelism)}</text>` +
      `<text x="12" y="66">Records in: ${esc(v.recordsIn)}</text>` +
      `<text x="12" y="86">Records out: ${esc(v.recordsOut)}</text>` +
      `<rect class="badge" x="${BOX.w - 72}" y="32" width="60" height="20" rx="10"/>` +
      `<text class="badge-text" x="${BOX.w - 42}" y="46" text-anchor="middle">${esc(badge)}</text></g>`;
  }

  // The SVG markup of `nodes` (PLAN.nodes), each drawn with `info(node)`.
  function svg(nodes, info) {
    const { pos, width, height } = layout(nodes);
    const edges = [];
    for (const n of nodes) {
      for (const input of n.inputs || []) {
        if (pos.has(input.id)) edges.push(edge(pos.get(input.id), pos.get(n.id), input.ship_strategy || ''));
      }
    }
    return `<svg class="job-graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Job graph">` +
      '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto">' +
      '<path d="M0 0 L10 5 L0 10 z"/></marker></defs>' +
      edges.join('') + nodes.map((n) => vertex(info(n), pos.get(n.id))).join('') + '</svg>';
  }

  return { layout, svg, esc };
})();
