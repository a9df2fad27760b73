//! The one rule that picks which connected account a call acts on. The broker and the SDK both use
//! it, so a hand-made HTTP call cannot slip past what the SDK enforces.

use crate::errors::AccountCandidate;

/// What the rule needs to know about an account.
pub trait AccountLike {
    /// Account id.
    fn id(&self) -> &str;
    /// Display name, for the candidate list.
    fn display_name(&self) -> &str;
}

impl AccountLike for crate::accounts::ConnectedAccount {
    fn id(&self) -> &str {
        &self.id
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
}

/// Why no account could be selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionError {
    /// The user has no account for the app.
    NotConnected,
    /// Several accounts and no id: the caller must choose one of these.
    AccountRequired(Vec<AccountCandidate>),
    /// The requested id is not one of the user's accounts for the app.
    UnknownAccount,
}

/// Picks the account to act on among one user's accounts for one app.
///
/// - an explicit id must name one of `accounts`;
/// - without an id: none -> `NotConnected`, one -> that one, several -> `AccountRequired`.
pub fn select_account<'a, A: AccountLike>(
    accounts: &'a [A],
    requested: Option<&str>,
) -> Result<&'a A, SelectionError> {
    match (requested, accounts) {
        (Some(id), _) => accounts.iter().find(|a| a.id() == id).ok_or(SelectionError::UnknownAccount),
        (None, []) => Err(SelectionError::NotConnected),
        (None, [only]) => Ok(only),
        (None, several) => Err(SelectionError::AccountRequired(
            several
                .iter()
                .map(|a| AccountCandidate {
                    id: a.id().to_owned(),
                    display_name: a.display_name().to_owned(),
                })
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Acc(&'static str, &'static str);
    impl AccountLike for Acc {
        fn id(&self) -> &str {
            self.0
        }
        fn display_name(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn no_accounts_is_not_connected_even_with_an_id() {
        let none: [Acc; 0] = [];
        assert_eq!(select_account(&none, None).err(), Some(SelectionError::NotConnected));
        assert_eq!(select_account(&none, Some("ca_1")).err(), Some(SelectionError::UnknownAccount));
    }

    #[test]
    fn a_single_account_is_implied() {
        let one = [Acc("ca_1", "a@x")];
        assert_eq!(select_account(&one, None).map(|a| a.0), Ok("ca_1"));
        assert_eq!(select_account(&one, Some("ca_1")).map(|a| a.0), Ok("ca_1"));
        assert_eq!(select_account(&one, Some("ca_2")).err(), Some(SelectionError::UnknownAccount));
    }

    #[test]
    fn several_accounts_require_an_id_and_list_candidates() {
        let two = [Acc("ca_1", "a@x"), Acc("ca_2", "b@x")];
        match select_account(&two, None) {
            Err(SelectionError::AccountRequired(c)) => {
                assert_eq!(c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["ca_1", "ca_2"]);
                assert_eq!(c[1].display_name, "b@x");
            }
            other => panic!("unexpected {:?}", other.map(|a| a.0)),
        }
        assert_eq!(select_account(&two, Some("ca_2")).map(|a| a.0), Ok("ca_2"));
    }
}
