#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| patchbay_broker_fuzz::checks::session_token(data));
