//! The shooter's browser page: a canvas of the live match — fighters with health bars, shot
//! tracers, predicted own movement and interpolated others — with mouse aim, click to fire,
//! a kill feed and a chat box, on the generic browser library the server serves at
//! `/ticksync.js`. Compiled into the binary; a `web_dir` setting serves another directory
//! instead.

use ticksync_game::WebFile;

/// The page's files, as the server serves them.
pub const FILES: &[WebFile] = &[
    WebFile {
        path: "/index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/index.html"),
    },
    WebFile {
        path: "/shooter.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/shooter.js"),
    },
];
