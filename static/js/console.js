// The VM page's console: xterm.js on the portal's console WebSocket (core/console_protocol.py).
// Binary frames are terminal bytes both ways; text frames are JSON control messages.
(function () {
  "use strict";

  function start(root) {
    var screen = root.querySelector(".console-screen");
    var statusLine = root.querySelector(".console-status");
    var connectButton = root.querySelector("[data-console-connect]");
    var disconnectButton = root.querySelector("[data-console-disconnect]");
    var term = new Terminal({
      cursorBlink: true,
      convertEol: false,
      scrollback: 5000,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace",
      fontSize: 14,
    });
    var fit = new FitAddon.FitAddon();
    var encoder = new TextEncoder();
    var socket = null;
    term.loadAddon(fit);
    term.open(screen);
    fit.fit();
    root.edgeTerminal = term; // for a debugging console; the page does not need it

    function show(text, state) {
      statusLine.textContent = text;
      root.dataset.state = state;
    }

    function buttons(connected) {
      connectButton.disabled = connected;
      disconnectButton.disabled = !connected;
    }

    function send(data) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(data);
    }

    function control(message) {
      if (message.type === "status") {
        show(message.message, message.state || "connecting");
        if (message.state === "connected") term.focus();
      } else if (message.type === "error") {
        show(message.message, "error");
        term.write("\r\n\x1b[31m" + message.message + "\x1b[0m\r\n");
      } else if (message.type === "exit") {
        var state = message.reason === "EXITED" ? "ended" : "error";
        show(message.message, state);
        term.write("\r\n\x1b[33m[" + message.message + "]\x1b[0m\r\n");
      }
    }

    function connect() {
      if (socket) return;
      fit.fit();
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      var url = scheme + "//" + location.host + root.dataset.consoleUrl +
        "?cols=" + term.cols + "&rows=" + term.rows;
      socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      show("connecting…", "connecting");
      buttons(true);
      socket.onmessage = function (event) {
        if (typeof event.data === "string") {
          try { control(JSON.parse(event.data)); } catch (e) { /* not a control message */ }
        } else {
          term.write(new Uint8Array(event.data));
        }
      };
      socket.onclose = function (event) {
        socket = null;
        buttons(false);
        if (root.dataset.state === "connecting" || root.dataset.state === "connected") {
          show("disconnected (" + event.code + ")", "idle");
        }
      };
    }

    function disconnect() {
      if (socket) socket.close(1000);
    }

    function copy() {
      var text = term.getSelection();
      if (!text) return;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text);
        return;
      }
      // Plain http on another host: no Clipboard API, the old way still works on a click.
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      term.focus();
    }

    function paste() {
      if (navigator.clipboard && navigator.clipboard.readText) {
        navigator.clipboard.readText().then(function (text) { term.paste(text); term.focus(); });
      } else {
        show("paste with Ctrl+Shift+V or the browser's menu here", root.dataset.state);
      }
    }

    term.onData(function (data) { send(encoder.encode(data)); });
    term.onBinary(function (data) {
      var bytes = new Uint8Array(data.length);
      for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 255;
      send(bytes);
    });
    term.onResize(function (size) {
      send(JSON.stringify({ type: "resize", cols: size.cols, rows: size.rows }));
    });
    // Ctrl+Shift+C / Ctrl+Shift+V copy and paste, as in desktop terminals (Ctrl+C stays SIGINT).
    term.attachCustomKeyEventHandler(function (event) {
      if (event.type !== "keydown" || !event.ctrlKey || !event.shiftKey) return true;
      if (event.code === "KeyC") { copy(); event.preventDefault(); return false; }
      // Returning false lets the browser's own paste event reach xterm's textarea.
      if (event.code === "KeyV") return false;
      return true;
    });

    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { fit.fit(); }, 100);
    });
    connectButton.addEventListener("click", connect);
    disconnectButton.addEventListener("click", disconnect);
    root.querySelector("[data-console-copy]").addEventListener("click", copy);
    root.querySelector("[data-console-paste]").addEventListener("click", paste);
    window.addEventListener("beforeunload", disconnect);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-console-url]").forEach(start);
  });
})();
