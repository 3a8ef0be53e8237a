//! libFuzzer entry point for [`ticksync_fuzz::check_decode_server`]; the properties live there.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ticksync_fuzz::check_decode_server(data));
