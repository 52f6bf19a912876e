// Small DOM helpers. Text always goes in as text (labels and notes come from the chain and other
// people), never as HTML.

/** document.getElementById, failing loudly when the page and the script disagree. */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/**
 * Build an element: el("a", {href: "/x", class: "c"}, "text", otherNode).
 * `on*` attributes that are functions become listeners; null/undefined/false are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** 0x1234…abcd */
export function short(hex, keep = 6) {
  if (!hex || hex.length <= 2 * keep + 2) return hex ?? "";
  return `${hex.slice(0, keep + 2)}…${hex.slice(-keep + 2)}`;
}

/** A value shown shortened, in full on hover and when copied. */
export function hexCell(hex, keep = 6) {
  return el("code", { title: hex, class: "hex" }, short(hex, keep));
}

/** A labelled list of facts: [["Label", value], ...] -> <dl>. */
export function facts(rows) {
  return el(
    "dl",
    { class: "facts" },
    rows.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v, id]) => [
      el("dt", {}, k),
      el("dd", id ? { "data-field": id } : {}, v),
    ]),
  );
}

/** A table from column headers and rows of cells (cells may be nodes). */
export function table(headers, rows, attrs = {}) {
  return el(
    "table",
    attrs,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", cells.attrs ?? {}, cells.map((c) => el("td", {}, c))))),
  );
}
