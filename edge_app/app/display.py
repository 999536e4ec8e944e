"""Opening the display (or saying clearly why there is none) and the fatal-error screen."""

from __future__ import annotations

import os
import sys
from typing import Any

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.app.view import BACKGROUND, TEXT, UNSURE

NO_DISPLAY = (
    "no display: set DISPLAY or WAYLAND_DISPLAY (a desktop), run on the Pi's console "
    "with SDL_VIDEODRIVER=kmsdrm, or run without a screen with --headless"
)


def import_pygame() -> Any:
    """Import pygame (or pygame-ce, which installs the same module) without pkg_resources.

    pygame.pkgdata imports pkg_resources when it is installed (150 ms here, far more on a Pi 4)
    only to find its bundled font, which it also finds by path. A None entry in sys.modules
    makes that one import fail, as Python documents; it is removed again right after.
    """
    blocked = "pkg_resources" not in sys.modules
    if blocked:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError:
        raise UserError(
            "pygame is not installed; pip install pygame-ce (or pygame), or "
            "pip install 'mnist-edge[edge]'"
        ) from None
    finally:
        if blocked:
            del sys.modules["pkg_resources"]
    return pygame


def has_display() -> bool:
    """Whether a window can appear: a desktop session, a console driver, or a chosen driver."""
    env = os.environ
    return bool(
        env.get("DISPLAY")
        or env.get("WAYLAND_DISPLAY")
        or env.get("SDL_VIDEODRIVER")
        or sys.platform in ("darwin", "win32")
    )


def open_display(
    pygame: Any, size: tuple[int, int] | None, fullscreen: bool, headless: bool
) -> Any:
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    elif (
        not has_display()
        and not os.path.exists("/dev/dri/card0")
        and not os.path.exists("/dev/fb0")
    ):
        raise UserError(NO_DISPLAY)
    try:
        pygame.display.init()
        pygame.font.init()
        driver = pygame.display.get_driver()
        if (
            not headless
            and driver in ("offscreen", "dummy")
            and os.environ.get("SDL_VIDEODRIVER") not in ("offscreen", "dummy")
        ):
            raise UserError(NO_DISPLAY)  # SDL fell back to drawing nowhere
        flags = pygame.FULLSCREEN if fullscreen and not headless else 0
        wanted = size or ((0, 0) if fullscreen and not headless else (800, 480))
        screen = pygame.display.set_mode(wanted, flags)
    except pygame.error as exc:
        raise UserError(
            f"cannot open a display ({exc}); on a Pi console try "
            "SDL_VIDEODRIVER=kmsdrm, on a desktop check DISPLAY/WAYLAND_DISPLAY, "
            "or run without a screen with --headless"
        ) from None
    pygame.display.set_caption("mnist-edge")
    return screen


def error_screen(
    pygame: Any, screen: Any, message: str, fps: int = 30, timeout: float = 120.0
) -> None:
    """Show a fatal message until a key, a tap or ``timeout``, so a kiosk user sees why."""
    font = pygame.font.Font(None, max(20, min(screen.get_size()) // 20))
    words, lines, line = message.split(), [], ""
    limit = max(20, screen.get_width() // max(font.size("m")[0], 1) - 4)
    for word in words:
        if len(line) + len(word) + 1 > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    clock = pygame.time.Clock()
    for _ in range(int(timeout * fps)):
        screen.fill(BACKGROUND)
        y = screen.get_height() // 3
        for text in ["mnist-edge cannot start", *lines, "", "tap or press a key to quit"]:
            surf = font.render(text, True, UNSURE if text.startswith("mnist-edge") else TEXT)
            screen.blit(surf, surf.get_rect(midtop=(screen.get_width() // 2, y)))
            y += font.get_height() + 4
        pygame.display.flip()
        for event in pygame.event.get():
            if event.type in (
                pygame.QUIT,
                pygame.KEYDOWN,
                pygame.MOUSEBUTTONDOWN,
                pygame.FINGERDOWN,
            ):
                return
        clock.tick(fps)
