//! A throwaway test PKI: a CA, a server certificate for 127.0.0.1 / localhost and a client
//! certificate (`sensor01`), all signed by that CA, written as PEM files under one directory.
#![allow(dead_code)] // each test binary uses a part of it

use std::path::{Path, PathBuf};

/// The PEM files [`make_pki`] wrote.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Writes `ca.pem`, `server.pem`, `server.key`, `client.pem` and `client.key` into `dir`
/// (created if missing).
pub fn make_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "c2tap test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let signed = |names: Vec<String>| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let server = signed(vec!["localhost".into(), "127.0.0.1".into()]);
    let client = signed(vec!["sensor01".into()]);
    std::fs::create_dir_all(dir).unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, server.0).unwrap();
    std::fs::write(&pki.key, server.1).unwrap();
    std::fs::write(&pki.client_cert, client.0).unwrap();
    std::fs::write(&pki.client_key, client.1).unwrap();
    pki
}
