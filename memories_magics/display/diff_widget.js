// The %%compare widget: answers side by side, the aggregate, and a diff of two chosen answers.
// Model text is only ever set as textContent, never as HTML.

function el(tag, text, style) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (style) node.style.cssText = style;
  return node;
}

function select(options, value, onChange) {
  const node = el("select");
  options.forEach((label, i) => {
    const option = el("option", label);
    option.value = String(i);
    node.appendChild(option);
  });
  node.value = String(value);
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

const DIFF_STYLE = {
  insert: "background:rgba(46,160,67,.25);text-decoration:none",
  delete: "background:rgba(248,81,73,.25)",
};

function render({ model, el: root }) {
  const draw = () => {
    root.replaceChildren();
    const answers = model.get("answers");
    const columns = el("div", undefined, "display:flex;gap:.5em;flex-wrap:wrap");
    answers.forEach((answer) => {
      const column = el("div", undefined,
        "flex:1 1 0;min-width:14em;border:1px solid rgba(128,128,128,.35);border-radius:4px;padding:.5em");
      const head = el("div", undefined, "display:flex;justify-content:space-between");
      head.appendChild(el("b", answer.label));
      const copy = el("button", "copy");
      copy.className = "mm-copy";
      copy.addEventListener("click", () => navigator.clipboard?.writeText(answer.text));
      head.appendChild(copy);
      column.appendChild(head);
      column.appendChild(el("div", answer.error ? "" : answer.text, "white-space:pre-wrap;margin:.4em 0"));
      column.appendChild(el("div", answer.footer, "opacity:.7;font-size:85%"));
      columns.appendChild(column);
    });
    root.appendChild(columns);
    if (model.get("aggregate")) root.appendChild(el("p", model.get("aggregate")));
    if (answers.length < 2) return;
    const labels = answers.map((a) => a.label);
    const controls = el("div", undefined, "display:flex;gap:.5em;align-items:center;margin:.5em 0");
    controls.appendChild(el("b", "Diff"));
    controls.appendChild(select(labels, model.get("a"), (v) => { model.set("a", Number(v)); model.save_changes(); }));
    controls.appendChild(el("span", "→"));
    controls.appendChild(select(labels, model.get("b"), (v) => { model.set("b", Number(v)); model.save_changes(); }));
    const modes = ["word", "line", "char"];
    controls.appendChild(select(modes, modes.indexOf(model.get("mode")), (v) => { model.set("mode", modes[Number(v)]); model.save_changes(); }));
    root.appendChild(controls);
    const diff = el("div", undefined, "white-space:pre-wrap");
    diff.className = "mm-diff";
    for (const [op, text] of model.get("ops")) {
      if (op === "equal") diff.appendChild(document.createTextNode(text));
      else diff.appendChild(el(op === "insert" ? "ins" : "del", text, DIFF_STYLE[op]));
    }
    root.appendChild(diff);
  };
  draw();
  model.on("change:ops", draw);
  model.on("change:answers", draw);
  model.on("change:aggregate", draw);
}

export default { render };
