//! The arena's browser page: a canvas of the live arena with prediction of the player's own
//! entity and interpolation of the others, on the generic browser library the server serves
//! at `/ticksync.js`. Compiled into the binary, so the page needs nothing installed.

use ticksync_game::WebFile;

/// The page's files, as the server serves them.
pub const FILES: &[WebFile] = &[
    WebFile {
        path: "/index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/index.html"),
    },
    WebFile {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/app.js"),
    },
    WebFile {
        path: "/arena.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/arena.js"),
    },
];
