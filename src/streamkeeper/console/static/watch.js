// The HLS player of the console: hls.js (served by the server) or the browser's own HLS.
// hls.js reports recoverable hiccups (a stalled buffer while the next segment arrives) as errors;
// they are handled by the player itself, so only fatal errors reach the status line.
"use strict";
(function () {
  const video = document.getElementById("video"), status = document.getElementById("status");
  const src = video.dataset.src;
  const say = text => { status.textContent = text; };
  video.addEventListener("playing", () => say("Playing."));
  video.addEventListener("waiting", () => say("Buffering…"));
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ liveSyncDurationCount: 2 });
    window.player = hls;
    let recoveries = 0;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && recoveries++ < 5) { say("Reconnecting…"); hls.startLoad(); return; }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && recoveries++ < 5) { hls.recoverMediaError(); return; }
      const code = data.response && data.response.code;
      say(code === 403 ? "This stream may not be watched (403): the session ended or the link expired."
        : "Cannot play: " + data.details + (code ? ` (${code})` : ""));
      hls.destroy();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(() => {}); });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
    video.addEventListener("loadedmetadata", () => { video.play().catch(() => {}); });
  } else {
    say("This browser cannot play HLS (no Media Source Extensions).");
  }
})();
