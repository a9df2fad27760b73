//! The SDK's browser tests: `wasm-bindgen-test` in headless Chromium, run by `cargo xtask test`
//! (stage `browser`) as `wasm-pack test --headless --chrome` with `tests/webdriver.json`, which
//! turns Chromium's popup blocker back on (ChromeDriver disables it by default).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn sdk_version_is_the_crate_version() {
    assert_eq!(patchbay_sdk::sdk_version(), env!("CARGO_PKG_VERSION"));
}

/// `connectApp` must open its popup inside the caller's click; outside a user gesture the browser
/// refuses and `window.open` returns null, which the SDK maps to `POPUP_BLOCKED`. This also proves
/// that `tests/webdriver.json` took effect: with ChromeDriver's defaults the popup would open.
#[wasm_bindgen_test]
fn window_open_outside_a_user_gesture_returns_null() {
    let window = web_sys::window().expect("browser tests run in a window");
    let popup = window.open_with_url_and_target("about:blank", "_blank").expect("window.open does not throw");
    if let Some(popup) = &popup {
        let _ = popup.close();
    }
    assert!(
        popup.is_none(),
        "window.open outside a user gesture returned a window: the popup blocker is off \
         (is WASM_BINDGEN_TEST_WEBDRIVER_JSON / tests/webdriver.json applied?)"
    );
}
