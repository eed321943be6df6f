//! The app's own words outside the web pages (window titles, tray menu, notifications) in
//! English, French, German and Dutch, following the OS language. The pages carry theirs in
//! `ui/strings.js`, picked by the same language code.

/// A language the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the fallback.
    En,
    /// French.
    Fr,
    /// German.
    De,
    /// Dutch.
    Nl,
}

impl Lang {
    /// The language for a locale tag such as `fr-BE`, `de_DE.UTF-8` or `nl`; English otherwise.
    pub fn from_locale(tag: &str) -> Lang {
        match tag.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("fr") => Lang::Fr,
            Some("de") => Lang::De,
            Some("nl") => Lang::Nl,
            _ => Lang::En,
        }
    }

    /// The OS language (`TETHER_LANG` overrides it).
    pub fn system() -> Lang {
        std::env::var("TETHER_LANG")
            .ok()
            .or_else(sys_locale::get_locale)
            .map(|t| Lang::from_locale(&t))
            .unwrap_or(Lang::En)
    }

    /// The two-letter code the pages use.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Nl => "nl",
        }
    }
}

/// A fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// The consent dialog's title.
    ConsentTitle,
    /// The session banner's title.
    BannerTitle,
    /// The viewer window's title.
    ViewerTitle,
    /// Tray: show the main window.
    Show,
    /// Tray: pause the supporters' input.
    PauseInput,
    /// Tray: resume it.
    ResumeInput,
    /// Tray: make the sessions view-only.
    ViewOnly,
    /// Tray: end every session.
    StopAll,
    /// Tray: quit.
    Quit,
    /// Tray tooltip when idle.
    Idle,
}

/// The text in `lang`.
pub fn t(lang: Lang, text: Text) -> &'static str {
    use Lang::*;
    use Text::*;
    match (text, lang) {
        (ConsentTitle, En) => "Tether: someone asks to connect",
        (ConsentTitle, Fr) => "Tether : demande de connexion",
        (ConsentTitle, De) => "Tether: Verbindungsanfrage",
        (ConsentTitle, Nl) => "Tether: verzoek om verbinding",
        (BannerTitle, En) => "Tether: session in progress",
        (BannerTitle, Fr) => "Tether : session en cours",
        (BannerTitle, De) => "Tether: Sitzung läuft",
        (BannerTitle, Nl) => "Tether: sessie bezig",
        (ViewerTitle, En) => "Tether viewer",
        (ViewerTitle, Fr) => "Visionneuse Tether",
        (ViewerTitle, De) => "Tether-Viewer",
        (ViewerTitle, Nl) => "Tether-viewer",
        (Show, En) => "Show Tether",
        (Show, Fr) => "Afficher Tether",
        (Show, De) => "Tether anzeigen",
        (Show, Nl) => "Tether tonen",
        (PauseInput, En) => "Pause input",
        (PauseInput, Fr) => "Suspendre la saisie",
        (PauseInput, De) => "Eingabe pausieren",
        (PauseInput, Nl) => "Invoer pauzeren",
        (ResumeInput, En) => "Resume input",
        (ResumeInput, Fr) => "Reprendre la saisie",
        (ResumeInput, De) => "Eingabe fortsetzen",
        (ResumeInput, Nl) => "Invoer hervatten",
        (ViewOnly, En) => "Switch to view only",
        (ViewOnly, Fr) => "Passer en affichage seul",
        (ViewOnly, De) => "Nur noch ansehen",
        (ViewOnly, Nl) => "Alleen laten kijken",
        (StopAll, En) => "Stop all sessions",
        (StopAll, Fr) => "Arrêter toutes les sessions",
        (StopAll, De) => "Alle Sitzungen beenden",
        (StopAll, Nl) => "Alle sessies stoppen",
        (Quit, En) => "Quit",
        (Quit, Fr) => "Quitter",
        (Quit, De) => "Beenden",
        (Quit, Nl) => "Afsluiten",
        (Idle, En) => "Tether: nobody is connected",
        (Idle, Fr) => "Tether : personne n'est connecté",
        (Idle, De) => "Tether: niemand ist verbunden",
        (Idle, Nl) => "Tether: niemand is verbonden",
    }
}

/// "Jane Doe (Acme IT) is controlling this computer" and its view-only form.
pub fn connected(lang: Lang, who: &str, control: bool) -> String {
    match (lang, control) {
        (Lang::En, true) => format!("{who} is controlling this computer"),
        (Lang::En, false) => format!("{who} is viewing this screen"),
        (Lang::Fr, true) => format!("{who} contrôle cet ordinateur"),
        (Lang::Fr, false) => format!("{who} voit cet écran"),
        (Lang::De, true) => format!("{who} steuert diesen Computer"),
        (Lang::De, false) => format!("{who} sieht diesen Bildschirm"),
        (Lang::Nl, true) => format!("{who} bedient deze computer"),
        (Lang::Nl, false) => format!("{who} bekijkt dit scherm"),
    }
}

/// "Jane Doe started recording this session" / "… stopped recording …".
pub fn recording(lang: Lang, who: &str, on: bool) -> String {
    match (lang, on) {
        (Lang::En, true) => format!("{who} started recording this session"),
        (Lang::En, false) => format!("{who} stopped recording this session"),
        (Lang::Fr, true) => format!("{who} a commencé à enregistrer cette session"),
        (Lang::Fr, false) => format!("{who} a arrêté d’enregistrer cette session"),
        (Lang::De, true) => format!("{who} hat begonnen, diese Sitzung aufzuzeichnen"),
        (Lang::De, false) => format!("{who} hat die Aufzeichnung dieser Sitzung beendet"),
        (Lang::Nl, true) => format!("{who} is begonnen deze sessie op te nemen"),
        (Lang::Nl, false) => format!("{who} is gestopt deze sessie op te nemen"),
    }
}

/// "Jane Doe (Acme IT) is connected; their input is paused" (the banner's words).
pub fn paused(lang: Lang, who: &str) -> String {
    match lang {
        Lang::En => format!("{who} is connected; their input is paused"),
        Lang::Fr => format!("{who} est connecté ; sa saisie est en pause"),
        Lang::De => format!("{who} ist verbunden; die Eingabe ist pausiert"),
        Lang::Nl => format!("{who} is verbonden; de invoer is gepauzeerd"),
    }
}

/// "3 supporters are connected to this computer" (`count` ≥ 2).
pub fn many_connected(lang: Lang, count: usize) -> String {
    match lang {
        Lang::En => format!("{count} supporters are connected to this computer"),
        Lang::Fr => format!("{count} assistants sont connectés à cet ordinateur"),
        Lang::De => format!("{count} Helfer sind mit diesem Computer verbunden"),
        Lang::Nl => format!("{count} helpers zijn verbonden met deze computer"),
    }
}

/// "The session with Jane Doe ended".
pub fn ended(lang: Lang, who: &str) -> String {
    match lang {
        Lang::En => format!("The session with {who} ended"),
        Lang::Fr => format!("La session avec {who} est terminée"),
        Lang::De => format!("Die Sitzung mit {who} wurde beendet"),
        Lang::Nl => format!("De sessie met {who} is beëindigd"),
    }
}

/// "Jane Doe sent you /home/jane/Downloads/report.pdf".
pub fn received(lang: Lang, who: &str, path: &str) -> String {
    match lang {
        Lang::En => format!("{who} sent you {path}"),
        Lang::Fr => format!("{who} vous a envoyé {path}"),
        Lang::De => format!("{who} hat Ihnen {path} gesendet"),
        Lang::Nl => format!("{who} heeft u {path} gestuurd"),
    }
}

/// Why files dropped on a window were not sent.
pub fn drop_refused(lang: Lang, several: bool) -> &'static str {
    match (lang, several) {
        (Lang::En, false) => "Not sent: nobody who may receive files is connected",
        (Lang::En, true) => {
            "Not sent: several supporters are connected. Use Send files next to the one it is for"
        }
        (Lang::Fr, false) => {
            "Non envoyé : aucune personne autorisée à recevoir des fichiers n'est connectée"
        }
        (Lang::Fr, true) => {
            "Non envoyé : plusieurs assistants sont connectés. Utilisez Envoyer des fichiers à côté du destinataire"
        }
        (Lang::De, false) => "Nicht gesendet: niemand ist verbunden, der Dateien empfangen darf",
        (Lang::De, true) => {
            "Nicht gesendet: mehrere Helfer sind verbunden. Nutzen Sie „Dateien senden“ beim richtigen Helfer"
        }
        (Lang::Nl, false) => "Niet verzonden: er is niemand verbonden die bestanden mag ontvangen",
        (Lang::Nl, true) => {
            "Niet verzonden: er zijn meerdere helpers verbonden. Gebruik Bestanden verzenden bij de juiste helper"
        }
    }
}

/// The file picker's title.
pub fn pick_title(lang: Lang, who: &str) -> String {
    match lang {
        Lang::En => format!("Send files to {who}"),
        Lang::Fr => format!("Envoyer des fichiers à {who}"),
        Lang::De => format!("Dateien an {who} senden"),
        Lang::Nl => format!("Bestanden naar {who} verzenden"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_languages() {
        assert_eq!(Lang::from_locale("fr-BE"), Lang::Fr);
        assert_eq!(Lang::from_locale("de_DE.UTF-8"), Lang::De);
        assert_eq!(Lang::from_locale("NL"), Lang::Nl);
        assert_eq!(Lang::from_locale("pt-BR"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
        assert_eq!(
            connected(Lang::De, "Jane Doe (Acme IT)", true),
            "Jane Doe (Acme IT) steuert diesen Computer"
        );
    }
}
