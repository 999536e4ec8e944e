#!/usr/bin/env bash
# Install mnist-edge as a kiosk on 64-bit Raspberry Pi OS (Bookworm or Trixie): a venv in
# /opt/mnist-edge, a system user, and either the console (KMS/DRM) service or a desktop
# (Wayland) autostart.
#   sudo deploy/install-kiosk.sh [console|desktop] [extra app flags, e.g. --rotate 90]
set -euo pipefail
mode="${1:-console}"; shift || true
args="--fullscreen${*:+ $*}"
src="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "install-kiosk: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run with sudo"
arch="$(uname -m)"
case "$arch" in
  aarch64) ;;
  armv7l|armv6l) die "32-bit OS ($arch): ai-edge-litert has no wheel there; install the 64-bit Raspberry Pi OS, or see docs/raspberry-pi.md for tflite-runtime" ;;
  *) echo "install-kiosk: warning: $arch is not a Raspberry Pi; continuing" >&2 ;;
esac
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 needed (Bookworm has 3.11, Trixie 3.13): $(python3 --version)"

# Console kiosks need SDL's KMS/DRM driver: the edge extra installs pygame-ce on aarch64, whose
# SDL has it (pygame's wheel does not; docs/raspberry-pi.md). KMS/DRM loads the system's Mesa
# libraries, so those come from apt.
apt-get install -y --no-install-recommends python3-venv libgbm1 libegl1 libgles2 >/dev/null
id mnist-edge >/dev/null 2>&1 || useradd --system --home /var/lib/mnist-edge --create-home \
  --groups video,input,render mnist-edge
python3 -m venv /opt/mnist-edge/venv
/opt/mnist-edge/venv/bin/pip install -q --upgrade pip
/opt/mnist-edge/venv/bin/pip install -q "$src[edge]"

case "$mode" in
  console)
    install -m 0644 "$src/deploy/mnist-edge.service" /etc/systemd/system/mnist-edge.service
    sed -i "s|^Environment=MNIST_EDGE_ARGS=.*|Environment=MNIST_EDGE_ARGS=$args|" \
      /etc/systemd/system/mnist-edge.service
    systemctl daemon-reload
    systemctl enable --now mnist-edge.service
    echo "mnist-edge runs on tty1; logs: journalctl -u mnist-edge -f" ;;
  desktop)
    user="${SUDO_USER:-pi}"
    dir="$(getent passwd "$user" | cut -d: -f6)/.config/autostart"
    install -d -o "$user" "$dir"
    cat > "$dir/mnist-edge.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=mnist-edge
Exec=env SDL_VIDEODRIVER=wayland,x11 /opt/mnist-edge/venv/bin/mnist-edge draw $args
X-GNOME-Autostart-enabled=true
DESKTOP
    chown "$user" "$dir/mnist-edge.desktop"
    echo "mnist-edge starts with $user's desktop session (log out and in, or reboot)" ;;
  *) die "mode must be console or desktop, not $mode" ;;
esac
