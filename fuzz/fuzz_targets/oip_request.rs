//! An Open Inference Protocol request body, JSON or JSON plus binary
//! tensors (the first two bytes choose the header length): decoding fails
//! with a message, or gives tensors whose element counts match their
//! shapes; it never panics, and never allocates past what the body holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use model_server::oip::parse_infer;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data {
        [a, b, rest @ ..] => (Some(usize::from(u16::from_le_bytes([*a, *b]))), rest),
        _ => (None, data),
    };
    for header in [None, header] {
        if let Ok(request) = parse_infer(body, header, 1 << 16) {
            for input in &request.inputs {
                let elements: u64 = input.shape.iter().product();
                assert_eq!(elements, input.data.len() as u64);
            }
        }
    }
});
