//! The test OpenID provider, for the viewer window's single sign-on.

use crate::webdriver::Driver;

/// The test OpenID provider (`tests/browser/provider-cli.mjs`, the npm `oidc-provider` package)
/// with Jane as its one person; it stops when this value is dropped (its standard input closes).
pub struct Provider {
    /// Its issuer URL.
    pub issuer: String,
    _child: tokio::process::Child,
}

impl Provider {
    const CLIENT_ID: &str = "tether-desktop";
    const CLIENT_SECRET: &str = "a provider secret for tests";

    /// Starts it, and sets it as Acme's provider at the relay at `relay` (as the owner whose
    /// token is `owner`).
    pub async fn start(relay: std::net::SocketAddr, owner: &str) -> Provider {
        let options = serde_json::json!({
            "clientId": Self::CLIENT_ID,
            "clientSecret": Self::CLIENT_SECRET,
            "redirectUri": format!("http://{relay}/api/v1/auth/sso/callback"),
            "accounts": {
                "jane-1": { "email": "jane@acme.example", "email_verified": true, "name": "Jane Doe" },
            },
        });
        let (child, v) = tether_tests::node_fixture("provider-cli.mjs", &options).await;
        let provider = Provider {
            issuer: v["issuer"].as_str().unwrap().to_owned(),
            _child: child,
        };
        let (status, v) = tether_tests::http(
            relay,
            "PUT",
            "/api/v1/org/sso",
            Some(&provider.settings()),
            Some(owner),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        provider
    }

    /// Signs in at the relay's sign-in page shown in `d`'s current window with single sign-on,
    /// as the person who types `email` there and is `account` at this provider.
    pub async fn sign_in(&self, d: &Driver, email: &str, account: &str) {
        d.click("input[name=email]").await;
        d.type_into_focus(email).await;
        d.click("#sso-sign-in").await;
        // The provider's own form, which offers the typed e-mail (`login_hint`); this provider's
        // login is the account id.
        let login = d.element("input[name=login]").await;
        let at = d.cmd("GET", "/url", None).await;
        assert!(
            at.as_str().is_some_and(|u| u.starts_with(&self.issuer)),
            "the provider's form is at {at}"
        );
        let clear = format!("/element/{login}/clear");
        d.cmd("POST", &clear, Some(serde_json::json!({}))).await;
        d.click("input[name=login]").await;
        d.type_into_focus(account).await;
        d.click("input[name=password]").await;
        d.type_into_focus("anything").await;
        d.click("button[type=submit]").await;
    }

    /// Acme's single sign-on through this provider; passwords still allowed.
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "client_id": Self::CLIENT_ID,
            "client_secret": Self::CLIENT_SECRET,
            "domains": ["acme.example"],
            "role_claim": null,
            "role_map": [],
            "default_role": null,
            "provision": false,
            "password_login": true,
        })
    }
}
