//! Signature files (`model.sig`): any bytes give a manifest or an error,
//! never a panic; and nothing verifies without a trusted key's signature
//! (the key below never signed anything the fuzzer could find).
#![no_main]
use libfuzzer_sys::fuzz_target;
use model_sign::PublicKey;

const KEY: &str = include_str!("../../crates/model-sign/tests/keys/p256.pub.pem");

fuzz_target!(|data: &[u8]| {
    let Ok(key) = PublicKey::from_pem(KEY) else { return };
    assert!(model_sign::verify(data, &[key]).is_err());
    assert!(model_sign::verify(data, &[]).is_err());
    let _ = PublicKey::from_pem(&String::from_utf8_lossy(data));
    let _ = model_sign::PrivateKey::from_pem(&String::from_utf8_lossy(data), Some(b"pw"));
});
