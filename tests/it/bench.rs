//! `bench --scenario`, `--plot`, exports, baselines and `--calibrate`, against a test server.

use crate::support;

use support::{Server, Test, heavy};

#[test]
fn a_pipeline_sweep_gives_rows_with_intervals_and_depth_cuts_the_cost() {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let doc = Test::new()
        .args(["bench", "--scenario", "pipeline", "--param", "depth=1,16", "--quick", "--json"])
        .redis(&server)
        .run()
        .success()
        .json();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["scenario"], "pipeline");
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let p50 = |i: usize| {
        let s = &points[i]["series"][0];
        let (p50, low, high) =
            (s["p50_us"].as_f64().unwrap(), s["p50_low_us"].as_f64().unwrap(), s["p50_high_us"].as_f64().unwrap());
        assert!(low <= p50 && p50 <= high, "{s}");
        for key in ["mean_us", "stddev_us", "min_us", "max_us", "p90_us", "p99_us", "p999_us", "samples"] {
            assert!(s[key].is_number(), "{key} in {s}");
        }
        p50
    };
    assert_eq!(points[0]["params"]["depth"], "1");
    assert_eq!(points[1]["params"]["depth"], "16");
    assert!(p50(1) < p50(0) / 4.0, "depth 16: {} µs per GET, depth 1: {} µs", p50(1), p50(0));
    assert_eq!(doc["claims"][0]["id"], "per-op-cost-falls");
    assert!(doc["started"].as_str().unwrap().ends_with("UTC"));
    assert!(doc["noisy"].is_boolean());
    assert_eq!(server.our_keys(), 0);
}

/// A small XML well-formedness check: every element that opens closes, in order.
fn well_formed(svg: &str) -> bool {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let Some(end) = rest[i..].find('>') else { return false };
        let tag = &rest[i + 1..i + end];
        rest = &rest[i + end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("").to_string();
        if tag.starts_with('/') {
            if stack.pop().as_deref() != Some(name.as_str()) {
                return false;
            }
        } else {
            stack.push(name);
        }
    }
    stack.is_empty()
}

/// Plot a two-point value-size sweep to `value-size.<ext>` and return the file's bytes.
fn value_size_plot(ext: &str) -> Vec<u8> {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("value-size.{ext}"));
    Test::new()
        .args(["bench", "--scenario", "value-size", "--param", "bytes=16,1mb", "--quick", "--plot"])
        .args([path.to_str().unwrap()])
        .redis(&server)
        .run()
        .success()
        .stdout_contains(&format!("value-size.{ext}"));
    std::fs::read(&path).unwrap()
}

#[test]
fn plot_writes_an_svg_with_one_series_per_backend() {
    let svg = String::from_utf8(value_size_plot("svg")).unwrap();
    assert!(svg.trim_start().starts_with("<svg"), "{}", &svg[..100]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(well_formed(&svg), "the SVG is not well-formed");
    // One line per backend in each panel, named in the legend.
    assert!(svg.contains("Redis GET"));
    assert!(svg.contains("SQLite primary-key read"));
    assert!(svg.matches("<polyline").count() >= 4, "two series in two panels");
    assert!(svg.contains("Value size: where bandwidth starts to matter"));
}

/// A decoded PNG: its size and 8-bit RGBA pixels.
struct Image {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Image {
    /// Check the signature and the IHDR chunk, then decode.
    fn read(bytes: &[u8]) -> Image {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is not IHDR");
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let (width, height) = (be(16), be(20));
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        assert_eq!((frame.width, frame.height), (width, height));
        assert_eq!((frame.color_type, frame.bit_depth), (png::ColorType::Rgba, png::BitDepth::Eight));
        buf.truncate(frame.buffer_size());
        Image { width, height, rgba: buf }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let at = 4 * (y * self.width + x) as usize;
        self.rgba[at..at + 4].try_into().unwrap()
    }

    /// How many pixels of rows `rows` match `keep`.
    fn count(&self, rows: std::ops::Range<u32>, keep: impl Fn([u8; 4]) -> bool) -> usize {
        rows.flat_map(|y| (0..self.width).map(move |x| (x, y))).filter(|&(x, y)| keep(self.pixel(x, y))).count()
    }
}

#[test]
fn plot_writes_a_png_with_its_labels_drawn_on_white() {
    let image = Image::read(&value_size_plot("png"));
    // The SVG's 1200×600 at PNG_SCALE 2.
    assert_eq!((image.width, image.height), (2400, 1200));
    assert!(image.rgba.chunks(4).all(|p| p[3] == 255), "a pixel is transparent: slides want white");
    assert_eq!(image.pixel(0, 0), [255, 255, 255, 255], "the background is not white");
    // Text is drawn, not left blank: the title (black, top 30 SVG pixels) and the footer (grey,
    // bottom 40) have dark pixels, thousands of them (a line of 13-pixel text at 2× has ~10k).
    let dark = |p: [u8; 4]| p[0] < 0x90 && p[1] < 0x90 && p[2] < 0x90;
    let title = image.count(0..60, dark);
    let footer = image.count(1120..1200, dark);
    assert!(title > 2_000, "{title} dark pixels in the title strip: is the title drawn?");
    assert!(footer > 2_000, "{footer} dark pixels in the footer strip: is the footer drawn?");
    // Both series, in the first two colours of the palette.
    let near = |c: [u8; 3]| move |p: [u8; 4]| (0..3).all(|i| p[i].abs_diff(c[i]) < 8);
    let red = image.count(60..1120, near([0xd6, 0x27, 0x28]));
    let blue = image.count(60..1120, near([0x1f, 0x77, 0xb4]));
    assert!(red > 500 && blue > 500, "series pixels: red {red}, blue {blue}");
}

#[test]
fn a_chinese_png_plot_needs_a_font_that_draws_chinese() {
    use redis_learn::bench::ScenarioName;
    use redis_learn::bench::plot::Plot;
    use redis_learn::i18n::Lang;
    let _heavy = heavy();
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("value-size.png");
    // The check the binary makes (this process's fonts; the binary's HOME is a temp dir, so fonts
    // under the real ~/.local/share/fonts would count here only).
    let cjk_font = Plot::prepare(&path, Lang::Zh, ScenarioName::ValueSize).is_ok();
    let out = Test::new()
        .args(["bench", "--scenario", "value-size", "--param", "bytes=16,1mb", "--quick", "--lang", "zh", "--plot"])
        .args([path.to_str().unwrap()])
        .redis(&server)
        .run();
    if cjk_font {
        out.success();
        Image::read(&std::fs::read(&path).unwrap());
    } else {
        let out = out.code(2);
        out.no_panic().stderr_contains("fonts-noto-cjk").stderr_contains(".svg");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stdout.is_empty(), "measured before refusing: {}", out.stdout);
        assert!(!path.exists(), "a PNG with blank labels was written");
    }
}

#[test]
fn a_plot_file_that_is_neither_svg_nor_png_is_refused_before_measuring() {
    // No Redis answers at this URL: a check made after connecting would say so instead.
    let started = std::time::Instant::now();
    let out = Test::new()
        .args(["bench", "--scenario", "pipeline", "--plot", "sweep.jpg", "--redis", &support::dead_url()])
        .run()
        .code(2);
    out.no_panic().stderr_contains("--plot sweep.jpg: name the file .svg or .png");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
#[ignore = "slow (~3 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn markdown_export_of_lesson_2_has_its_tables_and_the_date() {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let out = Test::new().args(["bench", "2", "--quick", "--format", "markdown"]).redis(&server).run().success();
    out.stdout_contains("**8 readers released together on a cold key**")
        .stdout_contains("| strategy | SQL queries | slowest reader | all got the token |")
        .stdout_contains("**Where the reads went**")
        .stdout_contains("| reads | hits | misses | SQL queries | hit ratio |")
        .stdout_contains(" UTC\n");
    let year = out.stdout.lines().next().unwrap();
    assert!(year.starts_with("# redis-learn bench · 20"), "{year}");
}

#[test]
fn scenario_exports_markdown_and_csv_for_slides() {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let md =
        Test::new().args(["bench", "--scenario", "counter", "--quick", "--format", "markdown"]).redis(&server).run();
    md.stdout_contains("## bench counter · ")
        .stdout_contains("| point | series | p50 [95%] | mean ± σ | min … max | p90 / p99 / p99.9 | ops/s | n |")
        .stdout_contains("INCR")
        .stdout_contains("noisy: ");
    let csv =
        Test::new().args(["bench", "--scenario", "zset-range", "--quick", "--format", "csv"]).redis(&server).run();
    let out = csv.success();
    let header = out.stdout.lines().next().unwrap();
    assert!(header.starts_with("schema_version,scenario,count,series,backend,"), "{header}");
    assert_eq!(out.stdout.lines().count(), 1 + 2 * 2, "{}", out.stdout);
}

#[test]
fn a_baseline_is_saved_and_compared() {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let state = state.path().to_str().unwrap();
    Test::new()
        .args(["bench", "--scenario", "lock-cycle", "--quick", "--save-baseline", "before"])
        .env("REDIS_LEARN_STATE_DIR", state)
        .redis(&server)
        .run()
        .success()
        .stdout_contains("saved baseline before");
    let doc = Test::new()
        .args(["bench", "--scenario", "lock-cycle", "--quick", "--baseline", "before", "--json"])
        .env("REDIS_LEARN_STATE_DIR", state)
        .redis(&server)
        .run()
        .success()
        .json();
    assert_eq!(doc["baseline"]["name"], "before");
    let deltas = doc["baseline"]["deltas"].as_array().unwrap();
    assert_eq!(deltas.len(), 3);
    for d in deltas {
        assert!(["same", "slower", "faster"].contains(&d["change"].as_str().unwrap()), "{d}");
    }
}

#[test]
fn bench_mistakes_are_one_line_and_exit_2() {
    let server = Server::start(&[]);
    for (args, says) in [
        (vec!["--scenario", "pipeline", "--param", "width=3"], "pipeline has no parameter \"width\"; it takes: depth"),
        (vec!["--scenario", "pipeline", "--param", "depth=0"], "outside 1…"),
        (vec!["--scenario", "pipeline", "--param", "depth"], "needs the form KEY=V1,V2"),
        (vec!["--scenario", "pipeline", "--plot", "x.jpg"], "name the file .svg or .png"),
        (vec!["--scenario", "pipeline", "--baseline", "nope"], "no baseline \"nope\" for pipeline"),
        (vec!["--scenario", "pipeline", "--save-baseline", "../x"], "baseline name"),
        (vec!["--scenario", "counter", "--plot", "x.svg"], "a plot needs a parameter with two or more values"),
    ] {
        let mut all = vec!["bench", "--quick"];
        all.extend(args);
        let out = Test::new().args(&all).redis(&server).run().code(2);
        out.no_panic().stderr_contains(says);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    assert_eq!(server.our_keys(), 0);
}

#[test]
fn scenarios_leave_someone_elses_data_alone() {
    let _heavy = heavy();
    let server = Server::start(&["--enable-debug-command", "yes"]);
    server.fill_with_someone_elses_data();
    let before = server.fingerprint();
    for (scenario, param) in [
        ("pipeline", "depth=1,16"),
        ("dataset-size", "keys=1000,5000"),
        ("clients", "clients=1,4"),
        ("pubsub-fanout", "subscribers=1,4"),
    ] {
        let out = Test::new().args(["bench", "--scenario", scenario, "--quick", "--param", param]).redis(&server).run();
        // What this test is about is the data. A timing claim that did not hold on a loaded machine
        // exits 1 (the claims are tested elsewhere); an error exits 2, and fails here.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{scenario}: {:?}\n{}", out.status, out.stderr);
        out.no_panic().stderr_lacks("error");
    }
    assert_eq!(server.fingerprint(), before);
}

#[test]
#[ignore = "slow (~5 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn calibrate_reports_our_overhead_against_redis_benchmark() {
    let _heavy = heavy();
    let server = Server::start(&[]);
    let doc = Test::new().args(["bench", "--calibrate", "--quick", "--json"]).redis(&server).run().json();
    assert_eq!(doc["kind"], "calibration");
    let pipelined = &doc["pairs"][0];
    assert_eq!(pipelined["id"], "pipelined");
    assert_eq!(pipelined["depth"], 16);
    assert!(pipelined["share"].as_f64().unwrap() > 0.0);
    assert_eq!(pipelined["theirs_rps"].as_array().unwrap().len(), 3);
    assert!(["held", "failed", "inconclusive"].contains(&doc["status"].as_str().unwrap()));
    assert_eq!(server.our_keys(), 0);
}

/// Every figure becomes `#` and every time unit `<t>`: what is left are the words.
fn words_only(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || ((chars[i] == '.' || chars[i] == ',') && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            out.push('#');
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let out = out.replace("# µs", "# <t>").replace("# ms", "# <t>");
    // "# s" is seconds only when no letter follows ("# subscribers" stays).
    let mut done = String::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find("# s") {
        let after = rest[i + 3..].chars().next();
        done.push_str(&rest[..i]);
        done.push_str(if after.is_some_and(char::is_alphabetic) { "# s" } else { "# <t>" });
        rest = &rest[i + 3..];
    }
    done.push_str(rest);
    done
}

/// The words of every scenario in both languages (a fake clock: every sample takes the same time,
/// so the sentences chosen are the same on every run), figures replaced by `#`.
#[test]
#[ignore = "slow (~5 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn scenario_words_in_english_and_chinese() {
    let _shared = support::fake_clock_run();
    let server = Server::start(&[]);
    for lang in ["en", "zh"] {
        let mut all = String::new();
        for scenario in [
            "pipeline",
            "point-read",
            "dataset-size",
            "value-size",
            "clients",
            "durable-write",
            "counter",
            "zset-range",
            "lock-cycle",
            "pubsub-fanout",
        ] {
            let doc = Test::new()
                .args(["bench", "--scenario", scenario, "--quick", "--json", "--lang", lang])
                .env("REDIS_LEARN_TEST_FAKE_CLOCK", "1")
                .redis(&server)
                .run()
                .json();
            all.push_str(&format!("## {} — {}\n", doc["scenario"].as_str().unwrap(), doc["title"].as_str().unwrap()));
            for p in doc["points"].as_array().unwrap() {
                for s in p["series"].as_array().unwrap() {
                    all.push_str(&format!(
                        "series {}: {}\n",
                        s["series"].as_str().unwrap(),
                        s["label"].as_str().unwrap()
                    ));
                }
            }
            for c in doc["claims"].as_array().unwrap() {
                all.push_str(&format!("claim {}: {}\n", c["id"].as_str().unwrap(), c["text"].as_str().unwrap()));
                all.push_str(&format!("headline {}: {}\n", c["id"].as_str().unwrap(), c["headline"].as_str().unwrap()));
            }
            for n in doc["notes"].as_array().unwrap() {
                all.push_str(&format!("note: {}\n", n.as_str().unwrap()));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let deduped: String =
            words_only(&all).lines().filter(|l| seen.insert(l.to_string())).map(|l| format!("{l}\n")).collect();
        insta::assert_snapshot!(format!("scenario_words_{lang}"), deduped);
    }
    assert_eq!(server.our_keys(), 0);
}

/// `point-read` and `clients` with `--sql-url`: the SQL server is a series, Redis is compared with
/// it, and the runs' tables are dropped. Needs a server and `--features networked-sql` (`.ci/run` gives both).
fn point_read_against(var: &str) {
    use redis_learn::sql::remote::{Param, SqlServer};
    if !redis_learn::sql::remote::BUILT_IN {
        panic!("this test needs the clients: run it with --features networked-sql");
    }
    let url = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: point it at a server"));
    let _heavy = heavy();
    let server = Server::start(&[]);
    let doc = Test::new()
        .args(["bench", "--scenario", "point-read", "--quick", "--json", "--sql-url", &url])
        .redis(&server)
        .run()
        .json();
    let series: Vec<&str> =
        doc["points"][0]["series"].as_array().unwrap().iter().map(|s| s["series"].as_str().unwrap()).collect();
    assert_eq!(series, ["redis-get", "sqlite-pk-read", "network-sql-pk-read"]);
    let claims: Vec<&str> = doc["claims"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(claims, ["in-process-wins", "redis-beats-network-sql"]);
    let doc = Test::new()
        .args(["bench", "--scenario", "clients", "--param", "clients=1,4", "--quick", "--json", "--sql-url", &url])
        .redis(&server)
        .run()
        .json();
    for point in doc["points"].as_array().unwrap() {
        let series: Vec<&str> =
            point["series"].as_array().unwrap().iter().map(|s| s["series"].as_str().unwrap()).collect();
        assert_eq!(series, ["redis-get", "sqlite-pk-read", "network-sql-pk-read"]);
    }
    let mut sql = SqlServer::connect(&url, false).unwrap();
    let stmt = sql.prepare("SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE ?").unwrap();
    let left = sql.query(&stmt, &[Param::Text("redis_learn_bench_%")]).unwrap()[0][0].int().unwrap();
    assert_eq!(left, 0, "the scenario's table is still on the server");
    assert_eq!(server.our_keys(), 0);
}

#[test]
#[ignore = "needs MySQL/MariaDB (REDIS_LEARN_TEST_MYSQL_URL) and --features networked-sql; .ci/run provides both"]
fn bench_point_read_compares_with_mysql() {
    point_read_against("REDIS_LEARN_TEST_MYSQL_URL");
}

#[test]
#[ignore = "needs PostgreSQL (REDIS_LEARN_TEST_POSTGRES_URL) and --features networked-sql; .ci/run provides both"]
fn bench_point_read_compares_with_postgres() {
    point_read_against("REDIS_LEARN_TEST_POSTGRES_URL");
}
