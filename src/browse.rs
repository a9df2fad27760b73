//! Finding an app in a large marketplace: the search and category filter, decided here and
//! applied to the rendered tiles without re-rendering them (the search box keeps its focus and
//! caret while the user types).

use patchbay_protocol::CATEGORIES;

use crate::json::Json;

/// Marketplaces with more apps than this get the search box and the category filter.
pub const TOOLBAR_FROM: usize = 6;

/// What the user filters by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Words to find in the name, description or category (case-insensitive).
    pub query: String,
    /// One category id, or all.
    pub category: Option<String>,
}

impl Filter {
    /// The filter the toolbar's controls hold (`pb-q`, `pb-cat`).
    pub fn from_values(values: &Json) -> Filter {
        let category = values.str_at("pb-cat").trim();
        Filter {
            query: values.str_at("pb-q").trim().to_lowercase(),
            category: (!category.is_empty()).then(|| category.to_owned()),
        }
    }

    /// Whether `app` (an entry of `GET /v1/apps`) is shown.
    pub fn matches(&self, app: &Json) -> bool {
        if self.category.as_deref().is_some_and(|c| app.str_at("category") != c) {
            return false;
        }
        let haystack =
            [app.str_at("name"), app.str_at("description"), app.str_at("category"), app.str_at("id")]
                .join(" ")
                .to_lowercase();
        self.query.split_whitespace().all(|word| haystack.contains(word))
    }

    /// The ids of the apps shown.
    pub fn shown(&self, apps: &[Json]) -> Vec<String> {
        apps.iter().filter(|app| self.matches(app)).map(|app| app.str_at("id").to_owned()).collect()
    }
}

/// The categories the apps belong to, sorted by label, each once.
pub fn categories(apps: &[Json]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for app in apps {
        let id = app.str_at("category");
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    ids.sort_by_key(|id| category_label(id).to_lowercase());
    ids
}

/// A category's label, from the catalog's own list (an unknown id is shown as it is).
pub fn category_label(id: &str) -> &str {
    CATEGORIES.iter().find(|(known, _)| *known == id).map_or(id, |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::json;

    fn apps() -> Vec<Json> {
        json(
            r#"[{"id":"hubspot","name":"HubSpot","description":"Contacts, companies and deals","category":"crm"},
               {"id":"slack","name":"Slack","description":"Messages","category":"chat"},
               {"id":"zendesk","name":"Zendesk","description":"Tickets","category":"support"},
               {"id":"local","name":"Local app"}]"#,
        )
        .as_array()
        .unwrap_or_default()
        .to_vec()
    }

    fn filter(query: &str, category: &str) -> Filter {
        Filter::from_values(&json(&format!(r#"{{"pb-q":"{query}","pb-cat":"{category}"}}"#)))
    }

    #[test]
    fn search_matches_every_word_in_name_description_or_category() {
        assert_eq!(filter("", "").shown(&apps()), ["hubspot", "slack", "zendesk", "local"]);
        assert_eq!(filter("  DEALS ", "").shown(&apps()), ["hubspot"]);
        assert_eq!(filter("hub contacts", "").shown(&apps()), ["hubspot"]);
        assert_eq!(filter("crm", "").shown(&apps()), ["hubspot"], "the category id is searchable");
        assert!(filter("hub tickets", "").shown(&apps()).is_empty());
    }

    #[test]
    fn the_category_filter_narrows_the_search() {
        assert_eq!(filter("", "support").shown(&apps()), ["zendesk"]);
        assert!(filter("slack", "support").shown(&apps()).is_empty());
    }

    #[test]
    fn categories_are_listed_once_by_label() {
        let mut list = apps();
        list.push(json(r#"{"id":"pipedrive","name":"Pipedrive","category":"crm"}"#));
        assert_eq!(categories(&list), ["chat", "crm", "support"]);
        assert_eq!(category_label("project_management"), "Project management");
        assert_eq!(category_label("new-kind"), "new-kind");
    }
}
