fn main() {
    std::process::exit(hbuild::run());
}
