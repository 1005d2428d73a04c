#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_runtime::__fuzz::frames(data));
