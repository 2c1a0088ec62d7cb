//! `c2tap-pcapgen fixtures --out DIR` and `c2tap-pcapgen bench ...`: see the usage text.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use c2tap_pcapgen::bench::{BENIGN_SOURCE, C2_SOURCE};
use c2tap_pcapgen::{write_bench, write_fixtures, write_flood, BenchSpec, FloodSpec, Shape};

const USAGE: &str = "usage:
  c2tap-pcapgen fixtures --out DIR
  c2tap-pcapgen bench --shape imix|small|synflood|dns|tls --packets N --flows F --out FILE [--ioc-flows K]
  c2tap-pcapgen flood --from c2|benign --packets N --out FILE [--genuine]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("c2tap-pcapgen: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (command, rest) = args.split_first().ok_or("missing command")?;
    let flag = |name: &str| -> Option<&str> {
        rest.iter()
            .position(|a| a == name)
            .and_then(|i| rest.get(i + 1))
            .map(String::as_str)
    };
    let number = |name: &str, default: Option<u64>| -> Result<u64, String> {
        match flag(name) {
            Some(v) => v
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name}: not a number: {v}")),
            None => default.ok_or(format!("missing {name}")),
        }
    };
    let out = PathBuf::from(flag("--out").ok_or("missing --out")?);
    match command.as_str() {
        "fixtures" => {
            let infos = write_fixtures(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let files: usize = infos.iter().map(|i| i.files.len()).sum();
            eprintln!(
                "wrote {files} fixture files, README.md and IOC files to {}",
                out.display()
            );
            Ok(())
        }
        "bench" => {
            let shape = flag("--shape")
                .and_then(Shape::parse)
                .ok_or("--shape must be imix, small, synflood, dns or tls")?;
            let spec = BenchSpec {
                shape,
                packets: number("--packets", None)?,
                flows: number("--flows", Some(100_000))?,
                ioc_flows: number("--ioc-flows", Some(0))?,
            };
            let file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let s = write_bench(BufWriter::with_capacity(1 << 20, file), &spec)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            eprintln!(
                "wrote {}: {} packets, {} frame bytes, {} flows, {} expected IOC flows ({})",
                out.display(),
                s.packets,
                s.bytes,
                s.flows,
                s.ioc_flows,
                match shape {
                    Shape::Dns | Shape::Tls => "name rmc-c2.duckdns.org",
                    _ => "built-in Remcos C2 endpoints",
                }
            );
            Ok(())
        }
        "flood" => {
            let from = match flag("--from") {
                Some("c2") => C2_SOURCE,
                Some("benign") => BENIGN_SOURCE,
                _ => return Err("--from must be c2 or benign".into()),
            };
            let spec = FloodSpec {
                packets: number("--packets", None)?,
                from,
                genuine: rest.iter().any(|a| a == "--genuine"),
            };
            let file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let s = write_flood(BufWriter::with_capacity(1 << 20, file), &spec)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            eprintln!(
                "wrote {}: {} packets, {} flows, {} expected IOC flows",
                out.display(),
                s.packets,
                s.flows,
                s.ioc_flows
            );
            Ok(())
        }
        other => Err(format!("unknown command {other}")),
    }
}
