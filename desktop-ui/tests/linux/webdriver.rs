//! Just enough of a W3C WebDriver client to drive the app's web views through Debian's
//! `WebKitWebDriver` (what `tauri-driver` wraps on Linux): it launches the app binary with
//! automation on, and every window the app opens is a browsing context it can switch to.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tether_tests::http;

/// How long anything in the UI may take to appear.
pub const WAIT: Duration = Duration::from_secs(30);

/// How long an input command that closes its window may go unanswered.
const INPUT_WAIT: Duration = Duration::from_secs(3);

/// A `WebKitWebDriver` server and one session on the app.
pub struct Driver {
    server: Child,
    addr: SocketAddr,
    session: String,
}

/// Whether a window at `url` shows `page`: an app page by name (`consent.html`), an exact
/// address (`tauri://localhost`), or a site (`http://host/`, ending in `/`) the URL is under.
fn shows(url: &str, page: &str) -> bool {
    url == page
        || url.ends_with(&format!("/{page}"))
        || (page.ends_with('/') && url.starts_with(page))
}

/// The id inside a WebDriver element reference (`{"element-6066-…": id}`).
fn element_id(v: &Value) -> String {
    let obj = v.as_object().expect("an element reference");
    obj.values()
        .next()
        .and_then(Value::as_str)
        .expect("an element id")
        .to_owned()
}

impl Driver {
    /// Starts the driver with `env` (which names the D-Bus session bus: GTK and WebKit want
    /// one), and launches `binary` in a new WebDriver session.
    pub async fn launch(binary: &str, env: &[(&str, String)]) -> Driver {
        assert!(
            env.iter().any(|(k, _)| *k == "DBUS_SESSION_BUS_ADDRESS"),
            "the app needs a session bus (shell::Bus)"
        );
        let addr = tether_tests::free_addr();
        let mut cmd = Command::new("WebKitWebDriver");
        // Its own process group, so the app and the driver go together.
        cmd.process_group(0)
            .arg(format!("--port={}", addr.port()))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let server = cmd
            .spawn()
            .expect("WebKitWebDriver is installed (scripts/install-deps.sh test)");
        let mut d = Driver {
            server,
            addr,
            session: String::new(),
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": binary, "args": []}
        }}});
        let deadline = tokio::time::Instant::now() + WAIT;
        let session = loop {
            let (status, v) = http(addr, "POST", "/session", Some(&caps), None).await;
            if status == 200 {
                break v["value"]["sessionId"].as_str().unwrap().to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no WebDriver session: {status} {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        d.session = session;
        d
    }

    /// One WebDriver command on the session; panics on an error answer.
    pub async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.try_cmd(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// One WebDriver command; the status and the whole answer.
    pub async fn try_cmd(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.within(WAIT, method, path, body)
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer in {WAIT:?}"))
    }

    /// One WebDriver command, or `None` if the driver does not answer within `limit`.
    async fn within(
        &self,
        limit: Duration,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let path = format!("/session/{}{path}", self.session);
        // POSTs need a body, even an empty one.
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        tokio::time::timeout(limit, http(self.addr, method, &path, body.as_ref(), None))
            .await
            .ok()
    }

    /// An input command that may close its own window (a dialog's answer does). The driver
    /// then says "no such window", or never answers for the input itself; either way the test
    /// goes on to check what the input did.
    async fn input_that_may_close(&self, path: &str, body: Option<Value>) {
        if let Some((status, v)) = self.within(INPUT_WAIT, "POST", path, body).await {
            assert!(
                status == 200 || v["value"]["error"] == "no such window",
                "{status} {v}"
            );
        }
    }

    /// Switches to the window showing `page` (e.g. `consent.html`), waiting for it to open.
    pub async fn window(&self, page: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let seen = match self.switch_to(page).await {
                Ok(()) => return,
                Err(seen) => seen,
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "no window shows {page}; the windows show {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether some window shows `page` now (switching to it if so).
    pub async fn has_window(&self, page: &str) -> bool {
        self.switch_to(page).await.is_ok()
    }

    /// One pass over the open windows: switches to the one showing `page`, or returns the
    /// addresses the windows show.
    async fn switch_to(&self, page: &str) -> Result<(), Vec<String>> {
        let handles = self.cmd("GET", "/window/handles", None).await;
        let mut seen = Vec::new();
        for h in handles.as_array().unwrap() {
            let (status, _) = self
                .try_cmd("POST", "/window", Some(json!({"handle": h})))
                .await;
            // The window may have closed since the list was made.
            if status != 200 {
                continue;
            }
            let (_, url) = self.try_cmd("GET", "/url", None).await;
            let url = url["value"].as_str().unwrap_or_default().to_owned();
            if shows(&url, page) {
                return Ok(());
            }
            seen.push(url);
        }
        Err(seen)
    }

    /// The element matching `css` in the current window, waiting for it.
    pub async fn element(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, v) = self
                .try_cmd(
                    "POST",
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if status == 200 {
                return element_id(&v["value"]);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no element {css}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether any element matching `css` is shown now (present and not hidden); no waiting.
    pub async fn displayed(&self, css: &str) -> bool {
        let found = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        for el in found.as_array().into_iter().flatten() {
            let id = element_id(el);
            if self
                .cmd("GET", &format!("/element/{id}/displayed"), None)
                .await
                == true
            {
                return true;
            }
        }
        false
    }

    /// The text of `css`, once `pred` holds for it.
    pub async fn text_where(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let el = self.element(css).await;
            let (status, v) = self
                .try_cmd("GET", &format!("/element/{el}/text"), None)
                .await;
            let text = v["value"].as_str().unwrap_or_default().to_owned();
            if status == 200 && pred(&text) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                let (_, src) = self.try_cmd("GET", "/source", None).await;
                let (_, probe) = self.try_cmd("POST", "/execute/sync", Some(json!({
                    "script": "const e = document.querySelector(arguments[0]); return [JSON.stringify(e.getBoundingClientRect()), e.innerText, innerWidth, innerHeight, document.visibilityState];",
                    "args": [css]}))).await;
                panic!("{css} says {text:?}; {probe}; the page: {}", src["value"]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        let el = self.element(css).await;
        self.input_that_may_close(&format!("/element/{el}/click"), None)
            .await;
    }

    /// Types `keys` into whatever has the focus, as the user's keyboard would.
    pub async fn type_into_focus(&self, keys: &str) {
        let el = self.cmd("GET", "/element/active", None).await;
        let id = element_id(&el);
        self.input_that_may_close(&format!("/element/{id}/value"), Some(json!({"text": keys})))
            .await;
    }

    /// The id of the focused element's `id` attribute.
    pub async fn focused_id(&self) -> String {
        let el = self.cmd("GET", "/element/active", None).await;
        let id = element_id(&el);
        let v = self
            .cmd("GET", &format!("/element/{id}/property/id"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Serious and critical accessibility problems on the current window's page, found by
    /// axe-core (names, labels, contrast, roles) from the web viewer's dev dependencies.
    pub async fn a11y_violations(&self) -> Vec<String> {
        let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../web/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe)
            .unwrap_or_else(|e| panic!("{}: {e} (npm ci in web/)", axe.display()));
        let script = format!(
            "const done = arguments[0]; {axe}; \
             axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(r.violations \
               .filter(v => v.impact === 'serious' || v.impact === 'critical') \
               .map(v => v.id + ' (' + v.help + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))), \
               e => done(['axe failed: ' + e]));"
        );
        let found = self
            .cmd(
                "POST",
                "/execute/async",
                Some(json!({"script": script, "args": []})),
            )
            .await;
        serde_json::from_value(found).expect("a list of violations")
    }

    /// A PNG of the current window's page.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.cmd("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session quits the app; then the driver goes.
        let addr = self.addr;
        let path = format!("/session/{}", self.session);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    http(addr, "DELETE", &path, None, None),
                )
                .await;
            });
        })
        .join();
        let group = format!("-{}", self.server.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.server.wait();
    }
}
