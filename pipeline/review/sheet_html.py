"""The contact sheet's page, drawn from its data (report.ReportData): pure, so the same data
gives the same page.

A board of panels, one per shot in manifest order. A panel's key frame opens the shot's sheet,
an overlay (a `:target`, no script needed) with every take's player, frames and facts (an image
shot's: every take's still, no player), the input frames at a readable size and the earlier
versions in history/. An input that is another shot's output links to that shot's panel. Every
string that came from the manifest, the ledger or the server goes through `esc`; the only script
is the constant one below.

A manifest's decisions (`status: approved` / `redo`) are badges on the panels. In review mode
(`Review`: `shots review`, review/serve.py) the page also carries the session's token and the
manifest's sha256 in <meta> tags, the take dots become buttons, and each panel gets controls to
approve or mark for redo, driven by the constant REVIEW_SCRIPT (data reaches it only through
escaped attributes). Without a Review the page has no control and no token: `shots report`'s.
"""

from __future__ import annotations

import functools
import html
import re
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.minimax import camera
from pipeline.review import cut, thumbs
from pipeline.run.endpoint import EndpointName
from pipeline.review.sheet_css import CSS, REVIEW_CSS, page_css
from pipeline.review.summary import duration as human_duration
from pipeline.review.summary import money

if TYPE_CHECKING:
    from pipeline.review.report import InputFrame, LastRun, ReportData, ShotRow, TakeRow

EAGER_PANELS = 24  # the first panels' pictures load at once; the rest as they scroll into view
PROMPT_TITLE_CHARS = 300  # an earlier version's prompt, shown whole in its sheet, clipped in a tooltip

STATUS_LABELS: dict[str, str] = {
    "done": "done", "failed": "failed", "uncertain": "uncertain", "pending": "pending", "changed": "changed",
    "blocked": "blocked", "errors": "not run",
}
UPSTREAM_ARROW = "\u2190"  # "first frame ← s01 (last frame)": made from that shot's output
DECISION_LABELS = {"approved": "approved", "redo": "redo"}  # the manifest's `status:`, as a badge says it
RELOADED_NOTE = "The manifest changed on disk; the page was reloaded"


@dataclass(frozen=True)
class Review:
    """What makes the page a review page: the session's token (sent back with every action) and
    the sha256 of the manifest the page was drawn from (an action names it; a change on disk
    that the page did not make reloads it)."""

    token: str
    sha: str

# Closes a shot's sheet with Escape and stops its players when it closes. The page works without
# it (the sheet's close link and backdrop are links); nothing in it comes from the data.
SCRIPT = """<script>
(function () {
  var OPEN = ".sheet:target, .sheet:has(:target)";
  function pauseHidden() {
    document.querySelectorAll("video").forEach(function (v) { if (!v.closest(OPEN)) v.pause(); });
  }
  window.addEventListener("hashchange", pauseHidden);
  document.addEventListener("keydown", function (e) {
    var open = document.querySelector(OPEN);
    if (e.key === "Escape" && open) location.hash = open.getAttribute("data-back");
  });
})();
</script>"""

# The review page's controls (review mode only). It reads the token, the manifest's sha256 and its
# name from <meta>, each panel's shot from data-shot; it posts an action, patches the panel from the
# answer (the picked take's key frame from its <template>, the badges, the notes) and shows the
# manifest lines that changed. Every 2 s it asks for the manifest's sha256: a change it did not
# make reloads the page, which then says so. Nothing in it comes from the data.
REVIEW_SCRIPT = """<script>
(function () {
  "use strict";
  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : "";
  }
  var TOKEN = meta("shots-token"), FILE = meta("shots-manifest"), POLL_MS = 2000, FLAG = "shots-review-reloaded";
  var sha = meta("shots-sha"), busy = 0, actions = 0;

  function call(path, body) {
    var init = {method: body ? "POST" : "GET", cache: "no-store", credentials: "same-origin",
                headers: {"X-Shots-Token": TOKEN}};
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        if (!r.ok) throw new Error(answer.error || (r.status + " " + r.statusText));
        return answer;
      });
    });
  }
  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("bad", !!bad);
    el.hidden = !text;
  }

  function showPick(panel, take) {
    var chosen = null;
    panel.querySelectorAll("button.dot").forEach(function (dot) {
      var on = dot.getAttribute("data-take") === String(take);
      dot.classList.toggle("chosen", on);
      dot.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) chosen = dot;
    });
    if (!chosen) return;
    var key = panel.querySelector(".key"), alt = panel.querySelector('template.key-of[data-take="' + take + '"]');
    if (key && alt) key.replaceWith(alt.content.cloneNode(true));
    var status = chosen.getAttribute("data-status"), pill = panel.querySelector(".ph-head .pill");
    panel.className = panel.className.replace(/\\bst-[\\w-]+/, "st-" + status);
    if (pill) {
      pill.className = "pill st-" + status;
      pill.textContent = chosen.getAttribute("data-label");
    }
    var sheet = document.getElementById(panel.getAttribute("data-sheet"));
    var mark = sheet && sheet.querySelector(".in-cut");
    var article = document.getElementById("take" + take + "-" + panel.getAttribute("data-shot"));
    var label = article && article.querySelector(".take-n");
    if (mark && label) label.after(mark);
  }
  function showDecision(panel, status) {
    var badge = panel.querySelector(".ph-head .decision");
    if (status && !badge) {
      badge = document.createElement("span");
      panel.querySelector(".ph-head .pill").before(badge);
    }
    if (status) {
      badge.className = "decision d-" + status;
      badge.textContent = status;
      badge.title = "status: " + status;
    } else if (badge) {
      badge.remove();
    }
    var approve = panel.querySelector("button.approve");
    approve.setAttribute("aria-pressed", status === "approved" ? "true" : "false");
    approve.textContent = status === "approved" ? "approved \\u2713 (undo)" : "approve";
    panel.querySelector("button.unredo").hidden = status !== "redo";
  }
  function showNotes(panel, notes) {
    var shown = panel.querySelector("p.notes");
    if (shown) {
      shown.textContent = notes || "";
      shown.hidden = !notes;
    }
  }

  // One action at a time, each sent with the sha256 the one before it left: two quick clicks on
  // two panels are two edits, not a conflict with itself.
  var queue = Promise.resolve();
  function act(panel, path, body) {
    var out = panel.querySelector(".edited");
    body.shot = panel.getAttribute("data-shot");
    busy++;
    panel.classList.add("busy");
    var done = queue.then(function () {
      body.sha = sha;
      return call(path, body);
    }).then(function (answer) {
      sha = answer.sha;
      actions++;
      showPick(panel, answer.shot.take);
      showDecision(panel, answer.shot.status);
      showNotes(panel, answer.shot.notes);
      var lines = answer.edits.map(function (e) {
        return FILE + ":" + e.line + "  " + (e.after ? e.after.trim() : "removed  " + e.before.trim());
      });
      if (!lines.length) lines.push("no change: " + FILE + " says so already");
      if (answer.note) lines.push(answer.note);
      say(out, lines.join("\\n"));
      return true;
    }, function (error) {
      say(out, error.message, true);
      return false;
    }).then(function (ok) {
      busy--;
      panel.classList.remove("busy");
      return ok;
    });
    queue = done;
    return done;
  }

  document.addEventListener("click", function (e) {
    var panel = e.target.closest(".panel[data-shot]");
    if (!panel || panel.classList.contains("busy")) return;
    var dot = e.target.closest("button.dot"), approve = e.target.closest("button.approve");
    if (dot) act(panel, "/api/pick", {take: Number(dot.getAttribute("data-take"))});
    else if (approve) act(panel, "/api/approve", {undo: approve.getAttribute("aria-pressed") === "true"});
    else if (e.target.closest("button.unredo")) act(panel, "/api/redo", {undo: true});
  });
  document.addEventListener("submit", function (e) {
    var form = e.target, panel = form.closest(".panel[data-shot]");
    if (!panel) return;
    e.preventDefault();
    if (panel.classList.contains("busy")) return;
    act(panel, "/api/redo", {note: form.elements.note.value}).then(function (ok) {
      if (!ok) return;
      form.elements.note.value = "";
      form.closest("details").open = false;
    });
  });

  function poll() {
    var seen = actions, problem = document.querySelector(".review-error");
    if (busy) return setTimeout(poll, POLL_MS);
    call("/api/state").then(function (state) {
      say(problem, "");
      if (!busy && seen === actions && state.sha && state.sha !== sha) {
        try { sessionStorage.setItem(FLAG, "1"); } catch (err) { /* the note is lost, not the reload */ }
        location.reload();
        return;
      }
      setTimeout(poll, POLL_MS);
    }, function (error) {
      say(problem, "shots review does not answer (" + error.message + "); decisions cannot be saved", true);
      setTimeout(poll, POLL_MS);
    });
  }
  try {
    if (sessionStorage.getItem(FLAG)) {
      sessionStorage.removeItem(FLAG);
      document.querySelector(".reloaded").hidden = false;
    }
  } catch (err) { /* no storage: no note */ }
  setTimeout(poll, POLL_MS);
})();
</script>"""

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def highlight_prompt(prompt: str) -> str:
    """The prompt, escaped, with each bracket's items marked: official camera commands in one
    style, anything else in brackets in another (with the likely meant command as a tooltip)."""
    out: list[str] = []
    pos = 0
    for b in camera.brackets(prompt):
        out.append(esc(prompt[pos:b.start]))
        inner = prompt[b.start + 1:b.end - 1]
        parts = []
        for piece in inner.split(","):
            word = piece.strip()
            if not word:
                parts.append(esc(piece))
                continue
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            parts.append(f"{esc(lead)}{_mark(word)}{esc(trail)}")
        out.append(f'<span class="bracket">[{",".join(parts)}]</span>')
        pos = b.end
    out.append(esc(prompt[pos:]))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _mark(word: str) -> str:
    """One bracket item, marked. Cached: a storyboard repeats its camera moves, and the
    did-you-mean for an unknown one is a fuzzy search."""
    official = camera.canonical(word)
    if official:
        title = f' title="camera: {esc(official)}"' if official != word else ""
        return f'<mark class="cam"{title}>{esc(word)}</mark>'
    guesses = camera.suggest(word)
    hint = "not an official camera command" + (f"; did you mean {', '.join(guesses)}?" if guesses else "")
    return f'<mark class="cam-unknown" title="{esc(hint)}">{esc(word)}</mark>'


# -- small words ----------------------------------------------------------------------------------


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if abs(s - round(s)) < 0.05 else f"{s:.1f} s"


def _run_text(run: LastRun | None) -> str:
    if run is None:
        return "no run yet"
    if run.finished is None:
        return f"started {_when(run.started)}, did not finish (interrupted or still running)"
    seconds = max(0.0, run.finished - run.started)
    took = f"{seconds:.1f} s" if seconds < 10 else human_duration(seconds)
    counts = ", ".join(f"{n} {k}" for k, n in run.outcome)
    what = f" ({counts})" if counts else ""
    return f"{took}{' (interrupted)' if run.interrupted else ''}{what}, finished {_when(run.finished)}"


def cost_text(take: TakeRow, simulated: bool) -> str:
    """What the take cost: its price once generated; "unknown" when the price is not known or a
    task may exist; a dash when no task was ever made. Never $0 for an unknown price. An
    uncertain take's reason says that a billed task may exist: its cost does not say it again."""
    price = "unknown" if take.cost is None else esc(money(take.cost))
    if take.billed:
        return f"{price} (simulated, not billed)" if simulated else price
    if take.status == "uncertain":
        return "unknown (see why above)"
    if take.status == "failed":
        return "unknown (the task failed)" if take.task_id else "not billed (no task was made)"
    if take.status == "blocked":
        return "nothing (never submitted)"
    if take.state == "submitted":
        return f"{price} when done"
    return "&ndash;"


def _anchor(prefix: str, shot: ShotRow, n: int) -> str:
    """An element id for the shot: its id where that is safe in a URL fragment (a checked shot
    id always is), else its number."""
    return f"{prefix}-{shot.id}" if _SAFE_ID.match(shot.id) else f"{prefix}--{n}"


def _shot_status(shot: ShotRow) -> str:
    """The panel's status: the chosen take's (the cut shows it), or 'errors' for a shot left out."""
    if shot.broken:
        return "errors"
    chosen = shot.chosen_take
    return chosen.status if chosen is not None else "pending"


def _dims(width: int | None, height: int | None) -> str:
    return f' width="{width}" height="{height}"' if width and height else ""


# -- the panel ------------------------------------------------------------------------------------


def _key_frame(shot: ShotRow, n: int, eager: bool) -> str:
    """The chosen take's middle frame, or a card saying why there is none; a link to the sheet."""
    chosen = shot.chosen_take
    status = _shot_status(shot)
    label = f"{shot.id}: {'take ' + str(shot.chosen) if chosen else 'no take'}"
    if shot.broken:
        inner = (f'<span class="card"><span class="card-status">not run: the shot has errors</span>'
                 f'<span class="card-why">{esc(shot.errors[0])}</span></span>')
        return f'<div class="key st-errors">{inner}</div>'
    if chosen is not None and chosen.status == "done" and chosen.thumbs:
        key = chosen.thumbs[1] if len(chosen.thumbs) > 1 else chosen.thumbs[0]
        what = "still" if shot.is_still else "middle frame"
        inner = (f'<img src="{esc(key)}" alt="{esc(label)}, {what}" loading="{"eager" if eager else "lazy"}"'
                 f'{_dims(*_thumb_size(chosen))}>')
    elif chosen is not None and chosen.status == "done":
        inner = '<span class="card"><span class="card-status">done</span><span class="card-why">no thumbnail</span></span>'
    else:
        why = chosen.reason if chosen is not None else "this take is not in the ledger yet"
        inner = (f'<span class="card"><span class="card-status">{esc(STATUS_LABELS.get(status, status))}</span>'
                 f'<span class="card-why">{esc(why or "")}</span></span>')
    count = len(shot.takes)
    if shot.is_still:  # nothing to play
        badge, title = (f"{count} takes" if count > 1 else "details"), "stills and takes"
    else:
        badge = f"&#9654; {count} takes" if count > 1 else ("&#9654; play" if chosen and chosen.video else "details")
        title = "players and takes"
    return (f'<a class="key st-{esc(status)}" href="#{_anchor("takes", shot, n)}" '
            f'title="{esc(shot.id)}: {title}">{inner}<span class="badge">{badge}</span></a>')


def _thumb_size(take: TakeRow) -> tuple[int, int]:
    if take.width and take.height:
        return thumbs.THUMB_WIDTH, max(1, round(thumbs.THUMB_WIDTH * take.height / take.width))
    return thumbs.THUMB_WIDTH, round(thumbs.THUMB_WIDTH * 9 / 16)


def _input_html(frame: InputFrame, eager: bool, large: bool = False, anchors: dict[str, str] | None = None) -> str:
    """An input frame: its thumbnail, or a labelled placeholder (a URL is named, never loaded).
    Another shot's output links to that shot's panel (`anchors`: shot id -> its panel's id)."""
    if frame.upstream is not None:
        return _upstream_input_html(frame, eager, large, (anchors or {}).get(frame.upstream))
    ref = f'<code class="ref">{esc(frame.ref)}</code>' if large else ""
    if frame.thumb:
        picture = (f'<img src="{esc(frame.thumb)}" alt="{esc(frame.role)}: {esc(frame.ref)}" title="{esc(frame.ref)}" '
                   f'loading="{"eager" if eager else "lazy"}"{_dims(frame.width, frame.height)}>')
    else:
        if frame.url:
            why = "URL, not loaded"
        elif frame.problem:
            why = frame.problem
        else:
            why = "no thumbnail"
        shown = frame.ref if large or not frame.url else short_url(frame.ref)
        picture = (f'<span class="ph" title="{esc(frame.ref)}"><span class="ph-why">{esc(why)}</span>'
                   f'<span class="ph-ref">{esc(shown)}</span></span>')
    return f'<figure class="input">{picture}<figcaption>{esc(frame.role)}{ref}</figcaption></figure>'


def _upstream_input_html(frame: InputFrame, eager: bool, large: bool, anchor: str | None) -> str:
    """An input cut from another shot's output: the frame cut for this shot (frames/), or a
    placeholder naming the shot it waits for; captioned with where it comes from, linked to
    that shot's panel."""
    source = f"{frame.upstream} ({frame.frame})"
    title = f"{frame.role} {UPSTREAM_ARROW} {source}"
    if frame.thumb:
        picture = (f'<img src="{esc(frame.thumb)}" alt="{esc(title)}" loading="{"eager" if eager else "lazy"}"'
                   f'{_dims(frame.width, frame.height)}>')
    else:
        if frame.waiting:
            why, what = "waits for", frame.upstream
        elif frame.problem:
            why, what = "cannot be used", frame.problem
        else:
            why, what = "no thumbnail", frame.ref
        picture = (f'<span class="ph{" wait" if frame.waiting else ""}"><span class="ph-why">{esc(why)}</span> '
                   f'<span class="ph-ref">{esc(what)}</span></span>')
    if anchor:
        picture = f'<a class="up" href="#{esc(anchor)}" title="{esc(title)}">{picture}</a>'
        name = f'<a class="from" href="#{esc(anchor)}">{esc(frame.upstream)}</a>'
    else:
        name = f'<span class="from">{esc(frame.upstream)}</span>'
    ref = f'<code class="ref">{esc(frame.ref)}</code>' if large and frame.thumb else ""
    return (f'<figure class="input chained">{picture}<figcaption title="{esc(title)}">{esc(frame.role)} '
            f'<span class="src">{UPSTREAM_ARROW} {name} <span class="which">({esc(frame.frame)})</span></span>'
            f"{ref}</figcaption></figure>")


def short_url(url: str) -> str:
    """'example.com/…/keeper.jpg' for a long URL: its host and its file, what a small box can show."""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    name = path.rstrip("/").rpartition("/")[2]
    if not name:
        return host or url
    return f"{host}/{name}" if name == path else f"{host}/\u2026/{name}"


def _timing(shot: ShotRow, slot: cut.Slot | None) -> str:
    if not shot.broken and not cut.in_cut(shot):  # a still: a keyframe, not footage; no time to give
        return '<p class="timing still-frame"><span class="dur">still</span> a keyframe, not in the cut</p>'
    if slot is None:
        return '<p class="timing out-of-cut">not in the cut</p>'
    note = ""
    planned = cut.planned_seconds(shot.duration)
    if abs(planned * cut.FPS - slot.frames) >= 1:  # the video's real length, not the one asked for
        note = (f'<span class="fit" title="the shot asked for {planned} s; the cut gives it its video\'s real '
                f'length">planned {planned} s</span>')
    return (f'<p class="timing"><span class="dur">{esc(_seconds(slot.frames / cut.FPS))}</span>'
            f'<span class="tc"><span class="lbl">in</span> {cut.timecode(slot.first_frame)}</span>'
            f'<span class="tc"><span class="lbl">out</span> {cut.timecode(slot.end_frame)}</span>'
            f"{note}</p>")


def _take_dots(shot: ShotRow, n: int, review: bool = False) -> str:
    """Each take's status at a glance, the chosen one ringed; all open the shot's sheet. In review
    mode each is a button that picks its take."""
    if len(shot.takes) < 2:
        return ""
    if review:
        dots = "".join(
            f'<button type="button" class="dot st-{esc(t.status)}{" chosen" if t.take == shot.chosen else ""}" '
            f'data-take="{t.take}" data-status="{esc(t.status)}" data-label="{esc(STATUS_LABELS[t.status])}" '
            f'aria-pressed="{"true" if t.take == shot.chosen else "false"}" '
            f'title="pick take {t.take} ({esc(STATUS_LABELS[t.status])})">{t.take}</button>'
            for t in shot.takes)
        return f'<span class="dots" role="group" aria-label="pick a take">{dots}</span>'
    dots = "".join(
        f'<a class="dot st-{esc(t.status)}{" chosen" if t.take == shot.chosen else ""}" '
        f'href="#{_anchor("takes", shot, n)}" title="take {t.take}: {esc(STATUS_LABELS[t.status])}'
        f'{f" ({_chosen_words(shot)})" if t.take == shot.chosen else ""}">{t.take}</a>'
        for t in shot.takes)
    return f'<span class="dots" aria-label="takes">{dots}</span>'


def _decision(shot: ShotRow) -> str:
    """The manifest's decision on the shot (`status:`) as a badge; nothing when it has none."""
    label = DECISION_LABELS.get(shot.decision or "")
    if label is None:
        return ""
    return f'<span class="decision d-{esc(shot.decision)}" title="status: {esc(shot.decision)}">{esc(label)}</span>'


def _review_controls(shot: ShotRow, n: int, eager: bool) -> str:
    """Approve (or undo it), mark for redo with a note (it becomes the shot's `notes`, as with
    `shots redo`; none leaves them), the lines the last action changed; and each take's key
    frame, ready for a pick."""
    approved = shot.decision == "approved"
    approve = (f'<button type="button" class="approve" aria-pressed="{"true" if approved else "false"}">'
               f'{"approved &#10003; (undo)" if approved else "approve"}</button>')
    redo = (f'<details class="redo"><summary>redo&hellip;</summary><form class="redo-form">'
            f'<label>note <textarea name="note" rows="2" placeholder="what to change (becomes the notes)">'
            f'</textarea></label><button type="submit">mark for redo</button>'
            f'<button type="button" class="unredo"{"" if shot.decision == "redo" else " hidden"}>clear redo</button>'
            f"</form></details>")
    keys = ""
    if len(shot.takes) > 1:
        keys = "".join(f'<template class="key-of" data-take="{t.take}">'
                       f"{_key_frame(replace(shot, chosen=t.take), n, eager)}</template>" for t in shot.takes)
    return (f'<div class="review-controls">{approve}{redo}</div>'
            f'<p class="edited" aria-live="polite"></p>{keys}')


def _chosen_words(shot: ShotRow) -> str:
    """What the chosen take is: the cut's; a still's is the one its panel shows."""
    return "in the cut" if cut.in_cut(shot) else "on the board"


def _prompt_html(shot: ShotRow) -> str:
    return highlight_prompt(shot.prompt) if shot.prompt else "<em>(no prompt)</em>"


def _panel(n: int, shot: ShotRow, slot: cut.Slot | None, eager: bool, prompt: str, anchors: dict[str, str],
           review: bool = False) -> str:
    status = _shot_status(shot)
    review = review and not shot.broken  # a shot with errors is not in the manifest's shots: nothing to decide
    head = (f'<header class="ph-head"><span class="n">{n:02d}</span> <code class="id">{esc(shot.id)}</code>'
            f'{_take_dots(shot, n, review)}{_decision(shot)}'
            f'<span class="pill st-{esc(status)}">{esc(STATUS_LABELS[status])}</span></header>')
    body = [head, _key_frame(shot, n, eager)]
    if review:
        body.append(_review_controls(shot, n, eager))
    if shot.broken:
        more = len(shot.errors) - 1
        body.append('<p class="errors">Runs leave this shot out (<code>--only</code>) until its errors are fixed'
                    + (f" ({more} more; <code>shots validate</code> shows them all)" if more else "")
                    + "; it is not in the cut.</p>")
        return f'<li class="panel st-errors" id="{_anchor("shot", shot, n)}">{"".join(body)}</li>'
    body.append(_timing(shot, slot))
    if shot.inputs:
        body.append('<div class="inputs">' + "".join(_input_html(f, eager, anchors=anchors) for f in shot.inputs)
                    + "</div>")
    else:  # paper keeps the place where input frames go: say why it is empty
        body.append('<div class="inputs none">no input frame: made from the prompt alone</div>')
    body.append(f'<p class="prompt">{prompt}</p>')
    if shot.notes or review:
        body.append(f'<p class="notes"{"" if shot.notes else " hidden"}>{esc(shot.notes or "")}</p>')
    if shot.is_still:
        meta = ["still", shot.model, shot.aspect_ratio or "model's aspect ratio"]
    else:
        meta = [shot.mode.replace("_", " "), shot.model, shot.resolution or "model's resolution"]
    tags = "".join(f' <span class="tag">{esc(t)}</span>' for t in shot.tags)
    links = ""
    if shot.history:
        count = len(shot.history)
        links = (f' <a class="hist" href="#{_anchor("history", shot, n)}">{count} earlier '
                 f'version{"s" if count > 1 else ""}</a>')
    body.append(f'<p class="meta">{" &middot; ".join(esc(m) for m in meta)}{tags}{links}</p>')
    mark = f' data-shot="{esc(shot.id)}" data-sheet="{_anchor("takes", shot, n)}"' if review else ""
    return f'<li class="panel st-{esc(status)}" id="{_anchor("shot", shot, n)}"{mark}>{"".join(body)}</li>'


# -- the shot's sheet (players, takes, history) ---------------------------------------------------


def _take_html(shot: ShotRow, take: TakeRow, simulated: bool) -> str:
    label = f"take {take.take}"
    chosen = f' <span class="in-cut">{_chosen_words(shot)}</span>' if take.take == shot.chosen else ""
    parts = [f'<article class="take st-{esc(take.status)}" id="take{take.take}-{esc(shot.id)}">',
             f'<header><span class="take-n">{esc(label)}</span>{chosen}'
             f'<span class="pill st-{esc(take.status)}">{esc(STATUS_LABELS[take.status])}</span></header>']
    if take.status == "done" and take.video and shot.is_still:  # the still itself, full size a click away
        picture = (f'<img src="{esc(take.thumbs[0])}" alt="{esc(shot.id)} {esc(label)}: still" loading="lazy"'
                   f'{_dims(*_thumb_size(take))}>' if take.thumbs else
                   '<span class="card-why">no thumbnail</span>')
        parts.append(f'<a class="still" href="{esc(take.video)}" title="{esc(take.video)}: full size">{picture}</a>')
    elif take.status == "done" and take.video:
        poster = f' poster="{esc(take.thumbs[1] if len(take.thumbs) > 1 else take.thumbs[0])}"' if take.thumbs else ""
        parts.append(f'<video controls preload="none"{poster} src="{esc(take.video)}"'
                     f' aria-label="{esc(shot.id)} {esc(label)}"></video>')
        if take.thumbs:
            w, h = _thumb_size(take)
            parts.append('<div class="strip">' + "".join(
                f'<figure><img src="{esc(src)}" alt="{esc(shot.id)} {esc(label)}: {where} frame" loading="lazy"'
                f' width="{w}" height="{h}"><figcaption>{where}</figcaption></figure>'
                for src, where in zip(take.thumbs, thumbs.POSITIONS)) + "</div>")
    else:
        parts.append(f'<div class="reason"><strong>{esc(STATUS_LABELS[take.status])}:</strong> '
                     f'{esc(take.reason or "")}</div>')
    facts = []
    if take.video:
        facts.append(("file", f'<a href="{esc(take.video)}">{esc(take.video)}</a>'))
    if take.width and take.height and shot.is_still:
        facts.append(("image", f"{take.width}&times;{take.height}"))
    elif take.width and take.height:
        facts.append(("video", f"{take.width}&times;{take.height}, {take.seconds:.2f} s"
                      if take.seconds is not None else f"{take.width}&times;{take.height}"))
    facts.append(("cost", cost_text(take, simulated)))
    facts.append(("image id" if shot.is_still else "task",
                  f"<code>{esc(take.task_id)}</code>" if take.task_id else "&ndash;"))
    parts.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    parts.append("</article>")
    return "".join(parts)


def _history_html(shot: ShotRow, n: int) -> str:
    if not shot.history:
        return ""
    items = []
    for v in shot.history:
        if v.current:
            when = (", made before the shot (or a shot it is made from) changed; still in place: the next run "
                    "moves it to history/")
        else:
            when = f", replaced {esc(_when(v.replaced))}" if v.replaced else ""
        take = f"take {v.take}" + (f" ({_chosen_words(shot)})" if v.take == shot.chosen else "")
        prompt = ""
        if v.prompt is not None:
            changed = "" if v.prompt != shot.prompt else " (the same prompt; another field changed)"
            prompt = f'<p class="was">was: {highlight_prompt(v.prompt)}{changed}</p>'
        items.append(f'<li><a href="{esc(v.file)}">{esc(v.file)}</a> <span class="muted">{esc(take)}{when}</span>'
                     f"{prompt}</li>")
    return (f'<section class="history" id="{_anchor("history", shot, n)}"><h3>Earlier versions '
            f'<span class="muted">history/: the videos that edits of this shot replaced</span></h3>'
            f'<ul>{"".join(items)}</ul></section>')


def _sheet(n: int, shot: ShotRow, slot: cut.Slot | None, simulated: bool, prompt: str, anchors: dict[str, str]) -> str:
    back = _anchor("shot", shot, n)
    status = _shot_status(shot)
    if shot.is_still:
        meta = [("mode", "image (a still)"), ("model", shot.model),
                ("aspect ratio", shot.aspect_ratio or "model default")]
    else:
        meta = [("mode", shot.mode.replace("_", " ")), ("model", shot.model),
                ("duration", f"{shot.duration} s" if shot.duration is not None else "model default"),
                ("resolution", shot.resolution or "model default")]
    facts = '<ul class="facts">' + "".join(f'<li><span class="k">{k}</span> {esc(v)}</li>' for k, v in meta) + "</ul>"
    inputs = ""
    if shot.inputs:
        inputs = ('<section class="inputs-large"><h3>Made from</h3><div class="inputs">'
                  + "".join(_input_html(f, eager=False, large=True, anchors=anchors) for f in shot.inputs)
                  + "</div></section>")
    notes = f'<p class="notes"><span class="k">notes</span> {esc(shot.notes)}</p>' if shot.notes else ""
    tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in shot.tags)
    takes = '<div class="takes">' + "".join(_take_html(shot, t, simulated) for t in shot.takes) + "</div>"
    return (f'<section class="sheet" id="{_anchor("takes", shot, n)}" data-back="#{back}" role="dialog" '
            f'aria-label="{esc(shot.id)}: takes">'
            f'<a class="backdrop" href="#{back}" aria-label="close" tabindex="-1"></a>'
            f'<div class="sheet-box"><header class="sheet-head"><h2><span class="n">{n:02d}</span> '
            f'<code>{esc(shot.id)}</code></h2><span class="pill st-{esc(status)}">{esc(STATUS_LABELS[status])}</span>'
            f'{tags}{_timing(shot, slot)}<a class="close" href="#{back}">close &times;</a></header>'
            f'<p class="prompt">{prompt}</p>'
            f"{notes}{facts}{takes}{inputs}{_history_html(shot, n)}</div></section>")


# -- the page -------------------------------------------------------------------------------------


def slots(shots: tuple[ShotRow, ...]) -> list[cut.Slot | None]:
    """Each shot's place in the cut (review/cut.py, as the reel places it); None for a shot left
    out, or not in the cut (a still)."""
    kept = [not s.broken and cut.in_cut(s) for s in shots]
    placed = iter(cut.place(cut.seconds_in_cut(s.duration, _probed(s)) for s, k in zip(shots, kept) if k))
    return [next(placed) if k else None for k in kept]


def _probed(shot: ShotRow) -> float | None:
    chosen = shot.chosen_take
    return chosen.seconds if chosen is not None and chosen.status == "done" else None


def _banner(where: EndpointName) -> str:
    if where.kind == "simulator":
        return ('<div class="banner sim" role="note"><strong>SIMULATOR</strong> These are previz videos from the '
                "built-in MiniMax simulator: camera moves over the reference images and title cards, not real "
                "generations. Nothing was billed. Set <code>MINIMAX_API_KEY</code> and run again for real "
                "videos.</div>")
    if where.kind == "api":
        return (f'<div class="banner api" role="note"><strong>MINIMAX API</strong> Made by {esc(where.text)}: '
                f"real generations, billed to the account of <code>MINIMAX_API_KEY</code>.</div>")
    what = "LOCAL SERVER" if where.kind == "local" else "CUSTOM SERVER"
    return (f'<div class="banner other" role="note"><strong>{what}</strong> Made by {esc(where.text)}'
            f'{f" (<code>{esc(where.url)}</code>)" if where.kind == "custom" else ""}, not the MiniMax API '
            f"(<code>MINIMAX_BASE_URL</code> points at it). Prices are the MiniMax API's; what this server "
            f"bills, if anything, is its own.</div>")


def _spend(data: ReportData, where: EndpointName) -> str:
    spent, unknown = data.spend()
    more = f" + {unknown} take(s) of unknown price" if unknown else ""
    if where.kind == "simulator":
        return f"nothing billed (simulator); the real API would have charged {esc(money(spent))}{more}"
    if where.kind == "api":
        return f"{esc(money(spent))}{more}"
    return f"{esc(money(spent))}{more} at MiniMax API prices"


def render_html(data: ReportData, review: Review | None = None) -> str:
    """The whole page for `data`. Pure: the same data gives the same page. With `review`, the
    review page of `shots review` (controls, token); without, the static contact sheet."""
    where = data.where
    totals = [("done", data.count("done")), ("failed", data.count("failed")),
              ("uncertain", data.count("uncertain")), ("pending", data.count("pending") + data.count("changed"))]
    if data.count("blocked"):
        totals.append(("blocked", data.count("blocked")))
    broken = sum(1 for s in data.shots if s.broken)
    if broken:
        totals.append(("not run", broken))
    chips = "".join(f'<li class="chip st-{k.replace(" ", "-")}"><b>{v}</b> {k}</li>' for k, v in totals)
    places = slots(data.shots)
    end = max((p.end_frame for p in places if p is not None), default=0)
    in_cut = sum(1 for p in places if p is not None)
    summary = (
        f'<dl class="summary"><dt>takes</dt><dd>{data.takes} in {len(data.shots)} shot(s)</dd>'
        f"<dt>cut</dt><dd>{cut.timecode(end)} ({esc(_seconds(end / cut.FPS))}) in {in_cut} shot(s), "
        f"{_which_takes(data.shots)}</dd>"
        f"<dt>spend</dt><dd>{_spend(data, where)}</dd>"
        f"<dt>last run</dt><dd>{esc(_run_text(data.last_run))}</dd>"
        f"<dt>endpoint</dt><dd>{esc(where.text)}</dd>"
        f"<dt>manifest</dt><dd><code>{esc(data.manifest)}</code></dd></dl>"
    )
    problems = ""
    if data.notes:
        problems = '<ul class="problems">' + "".join(f"<li>{esc(p)}</li>" for p in data.notes) + "</ul>"
    chained = any(s.is_still or any(f.upstream for f in s.inputs) for s in data.shots)
    continuity = f"A still is a keyframe, not in the cut; {UPSTREAM_ARROW} names the shot an input frame comes from. "
    legend = ('<p class="legend">Prompt key: <mark class="cam">official camera command</mark> '
              '<mark class="cam-unknown">bracketed text the API does not know</mark>. '
              f"In and out: where each shot starts and ends in the cut (the reel), at {cut.FPS} fps. "
              f"{continuity if chained else ''}"
              '<span class="screen-only">Click a frame for its players, takes and earlier versions.</span></p>')
    prompts = [_prompt_html(s) for s in data.shots]  # once each: the panel and the sheet show it
    anchors = {s.id: _anchor("shot", s, i) for i, s in enumerate(data.shots, start=1)}
    panels = "".join(_panel(i, s, p, i <= EAGER_PANELS, prompt, anchors, review is not None)
                     for i, (s, p, prompt) in enumerate(zip(data.shots, places, prompts), start=1))
    sheets = "".join(_sheet(i, s, p, where.simulated, prompt, anchors)
                     for i, (s, p, prompt) in enumerate(zip(data.shots, places, prompts), start=1) if not s.broken)
    title = f"{data.name}: storyboard"
    command = "shots review" if review else "shots report"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{command}">{_review_meta(data, review)}'
        f"<title>{esc(title)}</title><style>{CSS}{REVIEW_CSS if review else ''}"
        f"{page_css(data.name, where.text)}</style></head>"
        f'<body class="ep-{where.kind}{" review" if review else ""}">{_review_bar(data, review)}'
        f'<header class="page"><h1>{esc(data.name)} <span class="sub">storyboard</span></h1>{_banner(where)}'
        f'<ul class="chips">{chips}</ul>{summary}{problems}{legend}'
        f'<p class="generated">Generated {esc(_when(data.generated))} by <code>{command}</code>.</p></header>'
        f'<main><ol class="board">{panels}</ol></main>'
        f'<div class="sheets">{sheets}</div>{SCRIPT}{REVIEW_SCRIPT if review else ""}</body></html>\n'
    )


def _which_takes(shots: tuple[ShotRow, ...]) -> str:
    """Which take of each shot the cut uses, in words: take 1 until the manifest picks another."""
    if all(s.chosen == 1 for s in shots):
        return "take 1 of each"
    return "the picked take of each"


# -- review mode ------------------------------------------------------------------------------------


def _review_meta(data: ReportData, review: Review | None) -> str:
    """What REVIEW_SCRIPT reads: the token, the manifest's sha256 and its name as the page shows it."""
    if review is None:
        return ""
    return (f'<meta name="shots-token" content="{esc(review.token)}">'
            f'<meta name="shots-sha" content="{esc(review.sha)}">'
            f'<meta name="shots-manifest" content="{esc(data.manifest)}">')


def _review_bar(data: ReportData, review: Review | None) -> str:
    """The review page's strip on top: what the controls do, where they write, and the note that
    says the page was reloaded for a change on disk (REVIEW_SCRIPT shows it)."""
    if review is None:
        return ""
    return (f'<div class="review-bar" role="region" aria-label="review"><strong>REVIEW</strong> '
            f'Decisions are written to <code>{esc(data.manifest)}</code>, one line each: click a take&rsquo;s '
            f"number to pick it, approve a shot, or mark it for redo with a note."
            f'<p class="reloaded" role="status" hidden>{esc(RELOADED_NOTE)}</p>'
            f'<p class="review-error" role="alert" hidden></p></div>')


def render_review_problem(manifest: str, message: str, review: Review) -> str:
    """The review page while the manifest cannot be read (edited by hand into an error): what is
    wrong; it reloads itself once the file changes again."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="shots review">'
        f'<meta name="shots-token" content="{esc(review.token)}"><meta name="shots-sha" content="{esc(review.sha)}">'
        f'<meta name="shots-manifest" content="{esc(manifest)}">'
        f"<title>{esc(manifest)}: cannot be read</title><style>{CSS}{REVIEW_CSS}</style></head>"
        f'<body class="review"><div class="review-bar" role="region" aria-label="review"><strong>REVIEW</strong> '
        f'<code>{esc(manifest)}</code> cannot be read; fix it and this page reloads.'
        f'<p class="reloaded" role="status" hidden>{esc(RELOADED_NOTE)}</p></div>'
        f'<main><pre class="problem">{esc(message)}</pre></main>{REVIEW_SCRIPT}</body></html>\n'
    )
