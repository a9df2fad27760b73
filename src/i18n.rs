//! Every string the SDK shows, in one table: English, Spanish, French, Japanese and Brazilian
//! Portuguese. Placeholders are `{name}` and are filled by [`fill`].

/// A supported interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (`en`), the default.
    #[default]
    En,
    /// Spanish (`es`).
    Es,
    /// French (`fr`).
    Fr,
    /// Japanese (`ja`).
    Ja,
    /// Brazilian Portuguese (`pt-BR`).
    PtBr,
}

impl Lang {
    /// Every language, in table column order.
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Es, Lang::Fr, Lang::Ja, Lang::PtBr];

    /// Parses a BCP 47 tag: an exact supported tag, or a regional variant of a supported
    /// language (`es-MX` → `es`, `pt-PT` → `pt-BR`), case-insensitively.
    pub fn parse(tag: &str) -> Option<Lang> {
        let lower = tag.trim().to_ascii_lowercase();
        let primary = lower.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            "fr" => Some(Lang::Fr),
            "ja" => Some(Lang::Ja),
            "pt" => Some(Lang::PtBr),
            _ => None,
        }
    }

    /// The canonical tag (`pt-BR`), also used for `lang` attributes and date formatting.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
            Lang::Ja => "ja",
            Lang::PtBr => "pt-BR",
        }
    }

    fn column(self) -> usize {
        self as usize
    }
}

macro_rules! texts {
    ($($(#[doc = $doc:literal])* $key:ident => [$en:literal, $es:literal, $fr:literal, $ja:literal, $pt:literal],)*) => {
        /// A string of the interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text {
            $($(#[doc = $doc])* $key,)*
        }

        impl Text {
            /// Every key.
            pub const ALL: &'static [Text] = &[$(Text::$key,)*];
        }

        /// The table, one row per key in declaration order (data, not code, in the bundle).
        static TABLE: &[[&str; 5]] = &[$([$en, $es, $fr, $ja, $pt],)*];
    };
}

texts! {
    /// Title of a credential form.
    ConnectTitle => ["Connect {app}", "Conectar {app}", "Connecter {app}", "{app} に接続", "Conectar {app}"],
    /// Submit button of a credential form; connect action.
    Connect => ["Connect", "Conectar", "Connecter", "接続", "Conectar"],
    /// Submit button while the request is pending.
    Connecting => ["Connecting…", "Conectando…", "Connexion…", "接続中…", "Conectando…"],
    /// Cancel button.
    Cancel => ["Cancel", "Cancelar", "Annuler", "キャンセル", "Cancelar"],
    /// Close button.
    Close => ["Close", "Cerrar", "Fermer", "閉じる", "Fechar"],
    /// Submit button of a function form.
    Submit => ["Submit", "Enviar", "Envoyer", "送信", "Enviar"],
    /// Reconnect an account.
    Reconnect => ["Reconnect", "Reconectar", "Reconnecter", "再接続", "Reconectar"],
    /// Disconnect an account.
    Disconnect => ["Disconnect", "Desconectar", "Déconnecter", "接続解除", "Desconectar"],
    /// Confirmation question before disconnecting.
    ConfirmDisconnect => ["Disconnect {account}?", "¿Desconectar {account}?", "Déconnecter {account} ?", "{account} の接続を解除しますか?", "Desconectar {account}?"],
    /// Keep an account (answer to the confirmation).
    Keep => ["Keep", "Mantener", "Conserver", "解除しない", "Manter"],
    /// Connect a further account (policy "multiple").
    ConnectAnother => ["Connect another account", "Conectar otra cuenta", "Connecter un autre compte", "別のアカウントを接続", "Conectar outra conta"],
    /// Heading of the accounts list.
    ConnectedAccounts => ["Connected accounts", "Cuentas conectadas", "Comptes connectés", "接続済みのアカウント", "Contas conectadas"],
    /// Empty accounts list.
    NoAccounts => ["No account connected yet.", "Aún no hay ninguna cuenta conectada.", "Aucun compte connecté pour l’instant.", "まだアカウントが接続されていません。", "Nenhuma conta conectada ainda."],
    /// Account status `active`.
    StatusActive => ["Connected", "Conectada", "Connecté", "接続済み", "Conectada"],
    /// Account status `needs_reauth`.
    StatusNeedsReauth => ["Needs reconnecting", "Hay que reconectarla", "À reconnecter", "再接続が必要です", "Precisa reconectar"],
    /// When an account was connected (beside its status badge, so worded apart from it).
    ConnectedOn => ["Added on {date}", "Añadida el {date}", "Ajouté le {date}", "{date} に追加", "Adicionada em {date}"],
    /// Title of the OAuth waiting overlay.
    WaitingTitle => ["Waiting for {app}…", "Esperando a {app}…", "En attente de {app}…", "{app} を待っています…", "Aguardando {app}…"],
    /// Body of the OAuth waiting overlay.
    WaitingBody => ["Finish signing in to {app} in the sign-in window. It may open behind this one.", "Termina de iniciar sesión en {app} en la ventana de inicio de sesión. Puede abrirse detrás de esta.", "Terminez la connexion à {app} dans la fenêtre de connexion. Elle peut s’ouvrir derrière celle-ci.", "サインイン用のウィンドウで {app} へのサインインを完了してください。このウィンドウの後ろに開くことがあります。", "Conclua o login em {app} na janela de login. Ela pode abrir atrás desta."],
    /// Shown when the popup reads as closed (a hint only).
    WaitingClosedHint => ["Can’t see the sign-in window? It may be behind this one, or it seems to be closed. Show it again to continue, or cancel.", "¿No ves la ventana de inicio de sesión? Puede estar detrás de esta, o parece que se cerró. Vuelve a mostrarla para continuar o cancela.", "Vous ne voyez pas la fenêtre de connexion ? Elle est peut-être derrière celle-ci, ou elle semble fermée. Affichez-la de nouveau pour continuer, ou annulez.", "サインイン用のウィンドウが見えませんか？このウィンドウの後ろにあるか、閉じられたようです。続けるにはもう一度表示するか、キャンセルしてください。", "Não está vendo a janela de login? Ela pode estar atrás desta, ou parece ter sido fechada. Mostre-a novamente para continuar ou cancele."],
    /// Bring the OAuth popup to the front, or open it again.
    Reopen => ["Show sign-in window", "Mostrar la ventana de inicio de sesión", "Afficher la fenêtre de connexion", "サインイン用のウィンドウを表示", "Mostrar janela de login"],
    /// A required field is empty.
    Required => ["This field is required.", "Este campo es obligatorio.", "Ce champ est obligatoire.", "この項目は必須です。", "Este campo é obrigatório."],
    /// Not a number.
    NotANumber => ["Enter a number.", "Introduce un número.", "Saisissez un nombre.", "数値を入力してください。", "Digite um número."],
    /// Not a whole number.
    NotAnInteger => ["Enter a whole number.", "Introduce un número entero.", "Saisissez un nombre entier.", "整数を入力してください。", "Digite um número inteiro."],
    /// Below the minimum.
    TooSmall => ["Enter a value of at least {min}.", "Introduce un valor de al menos {min}.", "Saisissez une valeur d’au moins {min}.", "{min} 以上の値を入力してください。", "Digite um valor de pelo menos {min}."],
    /// Above the maximum.
    TooLarge => ["Enter a value of at most {max}.", "Introduce un valor de como máximo {max}.", "Saisissez une valeur d’au plus {max}.", "{max} 以下の値を入力してください。", "Digite um valor de no máximo {max}."],
    /// Text too short.
    TooShort => ["Enter at least {min} characters.", "Introduce al menos {min} caracteres.", "Saisissez au moins {min} caractères.", "{min} 文字以上入力してください。", "Digite pelo menos {min} caracteres."],
    /// Text too long.
    TooLong => ["Enter at most {max} characters.", "Introduce como máximo {max} caracteres.", "Saisissez au plus {max} caractères.", "{max} 文字以内で入力してください。", "Digite no máximo {max} caracteres."],
    /// Not an http(s) URL.
    BadUrl => ["Enter a URL starting with http:// or https://.", "Introduce una URL que empiece por http:// o https://.", "Saisissez une URL commençant par http:// ou https://.", "http:// または https:// で始まる URL を入力してください。", "Digite uma URL que comece com http:// ou https://."],
    /// Not an email address.
    BadEmail => ["Enter a valid email address.", "Introduce una dirección de correo válida.", "Saisissez une adresse e-mail valide.", "有効なメールアドレスを入力してください。", "Digite um endereço de e-mail válido."],
    /// Not valid JSON.
    BadJson => ["Enter valid JSON.", "Introduce un JSON válido.", "Saisissez du JSON valide.", "有効な JSON を入力してください。", "Digite um JSON válido."],
    /// Too few list items.
    TooFewItems => ["Add at least {min} items.", "Añade al menos {min} elementos.", "Ajoutez au moins {min} éléments.", "{min} 個以上の項目を追加してください。", "Adicione pelo menos {min} itens."],
    /// Too many list items.
    TooManyItems => ["Add at most {max} items.", "Añade como máximo {max} elementos.", "Ajoutez au plus {max} éléments.", "項目は {max} 個までです。", "Adicione no máximo {max} itens."],
    /// Empty option of a select.
    ChooseOption => ["Choose an option", "Elige una opción", "Choisissez une option", "選択してください", "Escolha uma opção"],
    /// Add a list item.
    AddItem => ["Add item", "Añadir elemento", "Ajouter un élément", "項目を追加", "Adicionar item"],
    /// Remove a list item.
    RemoveItem => ["Remove item {n}", "Quitar el elemento {n}", "Retirer l’élément {n}", "項目 {n} を削除", "Remover item {n}"],
    /// Label of a list item.
    ItemLabel => ["Item {n}", "Elemento {n}", "Élément {n}", "項目 {n}", "Item {n}"],
    /// Which account a function form acts on.
    ActingAs => ["Account: {account}", "Cuenta: {account}", "Compte : {account}", "アカウント: {account}", "Conta: {account}"],
    /// The app refused the credentials, without a reason.
    CredentialsRejected => ["{app} did not accept these credentials.", "{app} no aceptó estas credenciales.", "{app} n’a pas accepté ces identifiants.", "{app} はこの認証情報を受け付けませんでした。", "{app} não aceitou estas credenciais."],
    /// The app refused the credentials, with its reason.
    CredentialsRejectedReason => ["{app} did not accept these credentials: {reason}", "{app} no aceptó estas credenciales: {reason}", "{app} n’a pas accepté ces identifiants : {reason}", "{app} はこの認証情報を受け付けませんでした: {reason}", "{app} não aceitou estas credenciais: {reason}"],
    /// The broker could not be reached.
    NetworkError => ["Could not reach the server. Check your connection and try again.", "No se pudo contactar con el servidor. Revisa tu conexión e inténtalo de nuevo.", "Impossible de joindre le serveur. Vérifiez votre connexion et réessayez.", "サーバーに接続できませんでした。接続を確認してもう一度お試しください。", "Não foi possível acessar o servidor. Verifique sua conexão e tente novamente."],
    /// The app is unreachable or answered with an error.
    UpstreamProblem => ["{app} is not responding as expected. Try again in a moment.", "{app} no responde como debería. Inténtalo de nuevo en un momento.", "{app} ne répond pas correctement. Réessayez dans un instant.", "{app} が正常に応答していません。しばらくしてからもう一度お試しください。", "{app} não está respondendo como esperado. Tente novamente em instantes."],
    /// Generic failure.
    GenericError => ["Something went wrong. Please try again.", "Algo salió mal. Inténtalo de nuevo.", "Une erreur s’est produite. Veuillez réessayer.", "問題が発生しました。もう一度お試しください。", "Algo deu errado. Tente novamente."],
    /// The browser blocked the popup.
    PopupBlockedHint => ["Your browser blocked the sign-in window. Allow pop-ups for this site and try again.", "Tu navegador bloqueó la ventana de inicio de sesión. Permite las ventanas emergentes para este sitio e inténtalo de nuevo.", "Votre navigateur a bloqué la fenêtre de connexion. Autorisez les fenêtres pop-up pour ce site et réessayez.", "ブラウザがサインイン用のウィンドウをブロックしました。このサイトのポップアップを許可してもう一度お試しください。", "Seu navegador bloqueou a janela de login. Permita pop-ups para este site e tente novamente."],
    /// Summary above a form with errors.
    FixErrors => ["Please correct the highlighted fields.", "Corrige los campos marcados.", "Veuillez corriger les champs signalés.", "強調表示された項目を修正してください。", "Corrija os campos destacados."],
    /// Marketplace heading.
    Integrations => ["Integrations", "Integraciones", "Intégrations", "連携", "Integrações"],
    /// Marketplace button in modal mode.
    BrowseIntegrations => ["Browse integrations", "Ver integraciones", "Parcourir les intégrations", "連携を表示", "Ver integrações"],
    /// App without accounts.
    NotConnected => ["Not connected", "Sin conectar", "Non connecté", "未接続", "Não conectado"],
    /// App with several accounts.
    AccountsCount => ["{n} accounts connected", "{n} cuentas conectadas", "{n} comptes connectés", "{n} 件のアカウントを接続済み", "{n} contas conectadas"],
    /// Open an app's page.
    Manage => ["Manage", "Gestionar", "Gérer", "管理", "Gerenciar"],
    /// Loading placeholder.
    Loading => ["Loading…", "Cargando…", "Chargement…", "読み込み中…", "Carregando…"],
    /// Label of the marketplace's search box.
    SearchIntegrations => ["Search integrations", "Buscar integraciones", "Rechercher une intégration", "連携を検索", "Pesquisar integrações"],
    /// Label of the marketplace's category filter.
    Category => ["Category", "Categoría", "Catégorie", "カテゴリー", "Categoria"],
    /// The category filter's "no filter" choice.
    AllCategories => ["All categories", "Todas las categorías", "Toutes les catégories", "すべてのカテゴリー", "Todas as categorias"],
    /// How many tiles the filter shows.
    ShownCount => ["{n} of {total} integrations", "{n} de {total} integraciones", "{n} intégrations sur {total}", "{total} 件中 {n} 件の連携", "{n} de {total} integrações"],
    /// The filter shows no tile.
    NoMatch => ["No integration matches your search.", "Ninguna integración coincide con tu búsqueda.", "Aucune intégration ne correspond à votre recherche.", "検索に一致する連携はありません。", "Nenhuma integração corresponde à sua pesquisa."],
    /// An app nobody can connect yet (no OAuth client for it).
    NotAvailable => ["Not available yet", "Aún no disponible", "Pas encore disponible", "まだ利用できません", "Ainda não disponível"],
    /// Link to an app's API documentation.
    Documentation => ["Documentation", "Documentación", "Documentation", "ドキュメント", "Documentação"],
}

/// The string `key` in `lang`.
pub fn text(lang: Lang, key: Text) -> &'static str {
    TABLE.get(key as usize).and_then(|row| row.get(lang.column())).copied().unwrap_or_default()
}

/// `key` in `lang` with its `{name}` placeholders replaced.
pub fn fill(lang: Lang, key: Text, args: &[(&str, &str)]) -> String {
    let template = text(lang, key);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open + 1..).unwrap_or_default();
        let close = after.find('}').unwrap_or(after.len());
        let name = after.get(..close).unwrap_or_default();
        match args.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<&str> {
        let mut names: Vec<&str> = s.split('{').skip(1).filter_map(|rest| rest.split('}').next()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn every_string_exists_in_every_language_with_the_same_placeholders() {
        for key in Text::ALL {
            let english = placeholders(text(Lang::En, *key));
            for lang in Lang::ALL {
                let s = text(lang, *key);
                assert!(!s.trim().is_empty(), "{key:?} is empty in {}", lang.tag());
                assert_eq!(placeholders(s), english, "{key:?} in {} has other placeholders", lang.tag());
            }
        }
    }

    #[test]
    fn translations_are_not_left_in_english() {
        // A few strings are legitimately identical (e.g. "Item {n}" in Portuguese); most are not.
        for lang in [Lang::Es, Lang::Fr, Lang::Ja, Lang::PtBr] {
            let same = Text::ALL.iter().filter(|k| text(lang, **k) == text(Lang::En, **k)).count();
            assert!(same <= 2, "{} copies {same} English strings", lang.tag());
        }
    }

    #[test]
    fn tags_parse_exactly_and_by_primary_language() {
        for lang in Lang::ALL {
            assert_eq!(Lang::parse(lang.tag()), Some(lang));
        }
        assert_eq!(Lang::parse("PT-br"), Some(Lang::PtBr));
        assert_eq!(Lang::parse("es-MX"), Some(Lang::Es));
        assert_eq!(Lang::parse("fr_CA"), Some(Lang::Fr));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::parse(""), None);
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(fill(Lang::Fr, Text::WaitingTitle, &[("app", "Acme")]), "En attente de Acme…");
        assert_eq!(fill(Lang::Ja, Text::TooSmall, &[("min", "3")]), "3 以上の値を入力してください。");
    }
}
