//! The parts of a desktop session the app talks to over D-Bus, run by the test on a private
//! session bus: a notification server (`org.freedesktop.Notifications`) that records what the
//! app shows, and a StatusNotifier watcher (`org.kde.StatusNotifierWatcher`) with which the
//! app's tray icon registers, so the test can read and click its menu over `com.canonical.dbusmenu`
//! as a panel would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::webdriver::WAIT;

/// A private D-Bus session bus, stopped when dropped.
pub struct Bus {
    child: Child,
    /// Its address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl Bus {
    /// Starts `dbus-daemon --session` and waits for its address.
    pub fn start() -> Bus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon is installed (scripts/install-deps.sh test)");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
        Bus { child, address }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A notification the app showed.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Its title.
    pub summary: String,
    /// Its text.
    pub body: String,
}

struct Notifications {
    shown: mpsc::UnboundedSender<Notification>,
    next_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.shown.send(Notification { summary, body });
        self.next_id += 1;
        self.next_id
    }

    fn close_notification(&self, _id: u32) {}

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "tether-test-shell".into(),
            "tether".into(),
            "1".into(),
            "1.2".into(),
        )
    }
}

struct Watcher {
    items: mpsc::UnboundedSender<(String, String)>,
    registered: Vec<String>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &mut self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // Items give either their bus name or their object path (then the sender is the name).
        let (name, path) = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_owned())
        };
        self.registered.push(format!("{name}{path}"));
        let _ = self.items.send((name, path));
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.registered.clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The notification server and tray host, serving on a bus.
pub struct Shell {
    conn: zbus::Connection,
    notifications: mpsc::UnboundedReceiver<Notification>,
    items: mpsc::UnboundedReceiver<(String, String)>,
}

impl Shell {
    /// Serves both on the bus at `address`; call before the app starts.
    pub async fn start(address: &str) -> Shell {
        let (shown, notifications) = mpsc::unbounded_channel();
        let (items_tx, items) = mpsc::unbounded_channel();
        let conn = zbus::connection::Builder::address(address)
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .name("org.kde.StatusNotifierWatcher")
            .unwrap()
            .serve_at(
                "/org/freedesktop/Notifications",
                Notifications { shown, next_id: 0 },
            )
            .unwrap()
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: items_tx,
                    registered: Vec::new(),
                },
            )
            .unwrap()
            .build()
            .await
            .expect("serving on the test bus");
        Shell {
            conn,
            notifications,
            items,
        }
    }

    /// The next notification the app shows.
    pub async fn notification(&mut self) -> Notification {
        tokio::time::timeout(WAIT, self.notifications.recv())
            .await
            .expect("no notification shown")
            .unwrap()
    }

    /// The app's tray icon, once it has registered.
    pub async fn tray(&mut self) -> Tray {
        let (name, path) = tokio::time::timeout(WAIT, self.items.recv())
            .await
            .expect("no tray icon registered")
            .unwrap();
        let item = zbus::Proxy::new(&self.conn, name.clone(), path, "org.kde.StatusNotifierItem")
            .await
            .unwrap();
        let menu: OwnedObjectPath = item.get_property("Menu").await.unwrap();
        let menu = zbus::Proxy::new(&self.conn, name, menu, "com.canonical.dbusmenu")
            .await
            .unwrap();
        Tray { menu }
    }
}

/// One entry of the tray menu.
#[derive(Debug, Clone)]
pub struct Entry {
    id: i32,
    /// What it says (without mnemonics).
    pub label: String,
    /// Whether it can be clicked.
    pub enabled: bool,
}

/// A tray icon's menu, read and clicked as a panel does.
pub struct Tray {
    menu: zbus::Proxy<'static>,
}

type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

impl Tray {
    /// The menu's entries, top to bottom (separators have no label).
    pub async fn entries(&self) -> Vec<Entry> {
        let (_revision, (_root, _props, children)): (u32, Layout) = self
            .menu
            .call("GetLayout", &(0i32, 1i32, Vec::<String>::new()))
            .await
            .unwrap();
        children
            .into_iter()
            .map(|child| {
                let (id, props, _): Layout = child.try_into().unwrap();
                let label = props
                    .get("label")
                    .and_then(|v| String::try_from(Value::from(v.try_clone().unwrap())).ok())
                    .unwrap_or_default()
                    .replace('_', "");
                let enabled = props
                    .get("enabled")
                    .and_then(|v| bool::try_from(Value::from(v.try_clone().unwrap())).ok())
                    .unwrap_or(true);
                Entry { id, label, enabled }
            })
            .collect()
    }

    /// The entries once `pred` holds for them.
    pub async fn entries_where(&self, pred: impl Fn(&[Entry]) -> bool) -> Vec<Entry> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let entries = self.entries().await;
            if pred(&entries) {
                return entries;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the tray menu stayed {entries:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the entry labelled `label`.
    pub async fn click(&self, label: &str) {
        let entries = self.entries().await;
        let entry = entries
            .iter()
            .find(|e| e.label == label)
            .unwrap_or_else(|| panic!("no {label:?} in {entries:?}"));
        let () = self
            .menu
            .call("Event", &(entry.id, "clicked", Value::I32(0), 0u32))
            .await
            .unwrap();
    }
}
