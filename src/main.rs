//! The rsentinel binary (start-up is being wired).

mod cli;

fn main() {
    let _ = cli::parse(std::env::args().skip(1).collect());
    println!("{}", cli::version());
}
