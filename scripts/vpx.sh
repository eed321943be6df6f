# Sourced by the build scripts. env-libvpx-sys ships libvpx bindings for exact versions 1.3.0 to
# 1.13.0 (Debian bookworm has 1.12.0); with any other libvpx (Debian trixie, Ubuntu 24.04) the
# bindings are generated at build time with bindgen, which needs libclang.
#   sets: vpx_features — extra cargo arguments, empty when the shipped bindings fit
vpx_features=()
case "$(pkg-config --modversion vpx 2>/dev/null || true)" in
  1.3.0 | 1.4.0 | 1.5.0 | 1.6.1 | 1.7.0 | 1.8.0 | 1.8.1 | 1.8.2 | 1.9.0 | 1.10.0 | 1.11.0 | 1.12.0 | 1.13.0) ;;
  *) vpx_features=(--features tether-agent/vpx-generate) ;;
esac
