// MHC Live browser client: log in, list events, request a playback grant, play HLS.
"use strict";
const $ = (id) => document.getElementById(id);
let session = JSON.parse(localStorage.getItem("mhc-session") || "null");
let renewTimer = null;

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (session) headers.Authorization = "Bearer " + session.access;
  let resp = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (resp.status === 401 && session && path !== "/api/auth/refresh") {
    const r = await fetch("/api/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                                  body: JSON.stringify({ refresh: session.refresh }) });
    if (r.ok) { saveSession(await r.json()); return api(method, path, body); }
    saveSession(null);
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
  return data;
}

function saveSession(s) {
  session = s;
  localStorage.setItem("mhc-session", JSON.stringify(s));
  $("who").textContent = s ? `Signed in as ${s.user.display_name} (${s.user.role})` : "";
}

async function authenticate(path) {
  try {
    saveSession(await api("POST", path, { email: $("email").value, password: $("password").value }));
    $("msg").textContent = "";
  } catch (e) { $("msg").textContent = e.message; }
}

function play(url) {
  const video = $("player");
  video.hidden = false;
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
  } else if (window.Hls && window.Hls.isSupported()) {
    if (window.hls) window.hls.destroy();
    window.hls = new window.Hls();
    window.hls.loadSource(url);
    window.hls.attachMedia(video);
  } else {
    $("msg").innerHTML = `This browser cannot play HLS by itself; open <a href="${url}">the stream</a> in VLC or Safari.`;
    return;
  }
  video.play().catch(() => {});
}

async function watch(eventId) {
  try {
    const grant = await api("POST", `/api/live/${eventId}/playback`);
    play(grant.url);
    clearInterval(renewTimer);
    // Tokens expire; renew the same session well before, so the player never sees a 403.
    renewTimer = setInterval(async () => {
      const next = await api("POST", `/api/live/${eventId}/playback`, { session_id: grant.session_id });
      play(next.url);
    }, Math.max(30, grant.expires_in - 60) * 1000);
  } catch (e) { $("msg").textContent = e.message; }
}

async function loadEvents() {
  const { events } = await api("GET", "/api/live");
  const list = $("events");
  list.replaceChildren();
  for (const ev of events) {
    const card = document.createElement("div");
    card.className = "card";
    const price = ev.price === 0 ? "free" : `${(ev.price / 100).toFixed(2)} ${ev.currency}`;
    const info = document.createElement("div");
    info.innerHTML = `<strong></strong><br><small></small>`;
    info.querySelector("strong").textContent = ev.title;
    info.querySelector("small").textContent = `${new Date(ev.starts_at).toLocaleString()} · ${price}`;
    const state = document.createElement("span");
    state.textContent = ev.status;
    if (ev.status === "live") state.className = "live";
    const button = document.createElement("button");
    button.textContent = "Watch";
    button.onclick = () => watch(ev.id);
    card.append(info, state, button);
    list.append(card);
  }
}

$("login").onclick = () => authenticate("/api/auth/login");
$("register").onclick = () => authenticate("/api/auth/register");
saveSession(session);
loadEvents();
setInterval(loadEvents, 10000);
