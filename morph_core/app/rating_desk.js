function clickId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);  // works without https, unlike randomUUID
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const RETRY_MS = 5000;  // unacknowledged clicks go again after this, doubling
const MAX_RETRY_MS = 30000;
const KEPT = "morph.desk.pending";  // this tab's unacknowledged clicks, kept over a reload

function visitorKey() {
  return new URLSearchParams(window.location.search).get("visitor") || "";
}

// A reload (the natural answer to a page that seems stuck) keeps the clicks the
// server had not acknowledged: they go with the new page's first message, and
// one saved already still counts once (its click id).
function keptClicks() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
    if (kept && kept.visitor === visitorKey() && Array.isArray(kept.pending)) {
      return kept.pending.map((c) => ({ ...c, sent: false }));
    }
  } catch (e) {}  // no storage (a private window's settings) or unreadable: none kept
  return [];
}

function keep(pending) {
  try {
    sessionStorage.setItem(KEPT, JSON.stringify({ visitor: visitorKey(), pending }));
  } catch (e) {}
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const desk = (window.__morphDesk =
    window.__morphDesk || { pending: keptClicks(), focusId: null, images: new Map(), inflight: 0, sentAt: 0, retryMs: RETRY_MS });
  const acked = new Set(data.acked);
  const waiting = desk.pending.length;
  desk.pending = desk.pending.filter((c) => !acked.has(c.click_id));
  if (desk.pending.length < waiting) desk.retryMs = RETRY_MS;  // the server answers
  keep(desk.pending);
  desk.inflight = 0;  // a render: the server has finished a run since the last send
  if (desk.batch !== data.batch_id) {
    desk.batch = data.batch_id;
    desk.focusId = null;
  }
  const cards = data.cards;
  for (const card of cards) {  // images come once; later renders send ids only
    if (card.image) desk.images.set(card.galaxy_id, card.image);
  }
  const busy = () =>
    new Set(desk.pending.filter((c) => c.batch_id === data.batch_id).map((c) => c.galaxy_id));
  // The focus is a galaxy, not a position: a render drops the cards rated
  // meanwhile, and a position would then frame a later galaxy (a key pressed
  // just after such a render rated a card the rater had not reached).
  function focusIndex() {
    const i = cards.findIndex((c) => c.galaxy_id === desk.focusId);
    if (i >= 0) return i;
    const taken = busy();
    return Math.max(cards.findIndex((c) => !taken.has(c.galaxy_id)), 0);
  }
  function setFocus(i) {
    desk.focusId = cards[i] ? cards[i].galaxy_id : null;
    draw();
  }

  // One message in flight: clicks made while the server is still running the
  // last one wait for its render and go together (a new message would stop
  // that run and start it again: under load, runs were stopped over and over).
  // Every click not yet acknowledged goes with each message (one that was lost
  // is sent again); a render that never comes is given up after 5 s.
  function flush() {
    desk.pending.forEach((c) => { c.sent = true; });
    desk.inflight = desk.sentAt = Date.now();
    setTriggerValue("clicks", desk.pending.map(({ sent, ...click }) => click));
  }
  function send(click) {
    desk.pending.push({ ...click, click_id: clickId(), batch_id: data.batch_id });
    keep(desk.pending);
    if (!desk.inflight || Date.now() - desk.inflight > 5000) flush();
    draw();
  }
  function rate(i, rating) {
    const card = cards[i];
    if (!card || busy().has(card.galaxy_id)) return;  // a double click rates once
    send({ kind: "rate", galaxy_id: card.galaxy_id, rating: rating });
    moveToFree(i);
  }
  function skip(i) {
    const card = cards[i];
    if (!card || busy().has(card.galaxy_id)) return;
    send({ kind: "skip", galaxy_id: card.galaxy_id });
    moveToFree(i);
  }
  function undo() {
    if (desk.pending.some((c) => c.kind === "undo")) return;
    send({ kind: "undo", galaxy_id: null });
  }
  function moveToFree(from) {
    const taken = busy();
    for (let k = 1; k <= cards.length; k++) {
      const j = (from + k) % cards.length;
      if (!taken.has(cards[j].galaxy_id)) { setFocus(j); return; }
    }
  }

  let root = parentElement.querySelector(".desk");
  if (!root) {
    root = document.createElement("div");
    root.className = "desk";
    parentElement.appendChild(root);
  }
  function draw() {
    const focus = focusIndex();
    const taken = busy();
    root.replaceChildren();
    const grid = document.createElement("div");
    grid.className = "cards";
    cards.forEach((card, i) => {
      const cell = document.createElement("div");
      const pending = taken.has(card.galaxy_id);
      cell.className = "card" + (i === focus ? " focus" : "") + (pending ? " busy" : "");
      cell.dataset.galaxyId = card.galaxy_id;
      const img = document.createElement("img");
      img.src = desk.images.get(card.galaxy_id) || "";
      img.alt = card.galaxy_id;
      img.onclick = () => setFocus(i);
      const id = document.createElement("div");
      id.className = "id";
      id.textContent = (i === focus ? "▶ " : "") + card.galaxy_id + (pending ? " · saving…" : "");
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      for (let r = 0; r <= 5; r++) {
        const b = document.createElement("button");
        b.textContent = String(r);
        b.className = "rate";
        b.dataset.rating = String(r);
        b.disabled = pending;
        b.onclick = () => rate(i, r);
        buttons.appendChild(b);
      }
      cell.append(img, id, buttons);
      grid.appendChild(cell);
    });
    const bar = document.createElement("div");
    bar.className = "bar";
    const undoButton = document.createElement("button");
    undoButton.textContent = "Undo (u)";
    undoButton.className = "undo";
    undoButton.onclick = undo;
    const skipButton = document.createElement("button");
    skipButton.textContent = "Skip (s)";
    skipButton.className = "skip";
    skipButton.disabled = !cards.length;
    skipButton.onclick = () => skip(focusIndex());
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = "Keys: 0-5 rate the framed galaxy, ←/→ move, s skips, u undoes.";
    bar.append(undoButton, skipButton, note);
    root.append(grid, bar);
  }
  // clicks made while the last message ran go now, after this render
  setTimeout(() => { if (desk.pending.some((c) => !c.sent)) flush(); }, 0);
  // A message can be lost (with a dropped connection, say): clicks still not
  // acknowledged go again after 5 s, then 10, 20 and 30 s (a server that is
  // only slow is not made to start over every 5 s).
  clearInterval(desk.retry);  // the last render's
  const retry = (desk.retry = setInterval(() => {
    if (!desk.pending.length || Date.now() - desk.sentAt < desk.retryMs) return;
    desk.retryMs = Math.min(2 * desk.retryMs, MAX_RETRY_MS);
    flush();
  }, 1000));
  draw();

  const onKey = (e) => {
    const target = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const focus = focusIndex();
    if (/^[0-5]$/.test(e.key)) rate(focus, Number(e.key));
    else if (e.key === "ArrowRight") setFocus(Math.min(focus + 1, cards.length - 1));
    else if (e.key === "ArrowLeft") setFocus(Math.max(focus - 1, 0));
    else if (e.key === "s") skip(focus);
    else if (e.key === "u") undo();
    else return;
    e.preventDefault();
  };
  if (desk.onKey) document.removeEventListener("keydown", desk.onKey);
  desk.onKey = onKey;
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    clearInterval(retry);  // this render's only: a later one keeps its own
  };
}
