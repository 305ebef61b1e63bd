"""The panel's controls, derived from the options' one declaration (:mod:`memories_magics.options`):
one widget per option of ``%%llm`` / ``%%compare``, chosen by the option's type (a slider for
a bounded decimal, a number box for an integer, a menu for a choice, a checkbox for a flag, a
text box for text), labelled by its flag and explained by its help; and the model picker's
choices, judged by :meth:`Engine.availability` as ``%llm models`` judges them."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ...engine import Engine
from ...options import OPTIONS, Option

#: A choice menu's value for "not set" (the option's own default applies).
UNSET = ""


def panel_options() -> list[str]:
    """The options the panel offers: every declared option of ``%%llm`` or ``%%compare``
    but ``--thread NAME`` (the panel's ``-c`` continues its own latest thread) and the
    ``--over`` ones (a panel run asks one prompt, not a table's rows)."""
    return [name for name, option in OPTIONS.items()
            if {"llm", "compare"} & set(option.magics) and option.role != "over" and
            name != "thread"]


class OptionalValue(widgets.HBox):  # type: ignore[misc]  # ipywidgets has no types
    """A checkbox and a value widget: :attr:`value` is None (the model's default) until the
    box is ticked; moving the widget ticks it."""

    def __init__(self, label: str, widget: widgets.ValueWidget, tooltip: str = "") -> None:
        enabled = widgets.Checkbox(False, description=label, indent=False, tooltip=tooltip,
                                   layout=widgets.Layout(width="8.5em"))
        super().__init__([enabled, widget])
        self.enabled, self.widget = enabled, widget
        widget.observe(self._ticked, "value")

    def _ticked(self, _: Any) -> None:
        self.enabled.value = True

    @property
    def value(self) -> Any:
        """The chosen value, or None when unticked."""
        return self.widget.value if self.enabled.value else None

    @value.setter
    def value(self, value: Any) -> None:
        if value is None:
            self.enabled.value = False
        else:
            self.widget.value = value
            self.enabled.value = True

    @property
    def disabled(self) -> bool:
        """Whether the control is greyed out (the option doesn't apply)."""
        return bool(self.enabled.disabled)

    @disabled.setter
    def disabled(self, disabled: bool) -> None:
        self.enabled.disabled = self.widget.disabled = disabled


def _label(option: Option) -> str:
    """The option's long flag without dashes: ``top-p``, ``no-stream``."""
    return max(option.flags, key=len).lstrip("-")


def _initial(option: Option, settings: dict[str, Any]) -> float:
    """What a number control shows before it is ticked: the configured setting, else 1 kept
    within the option's range (a neutral temperature and top-p, a seed)."""
    value = settings.get(option.name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    low = option.min if option.min is not None else 1
    high = option.max if option.max is not None else 1
    return min(max(1, low), high)


def option_control(option: Option, settings: dict[str, Any]) -> Any:
    """The widget for ``option``; ``settings`` are the configuration's global settings."""
    label, tip = _label(option), option.help
    wide = {"description_width": "initial"}
    if option.type in ("float", "int"):
        bounds = {"min": option.min if option.min is not None else -1e308,
                  "max": option.max if option.max is not None else 1e308}
        if option.type == "float" and option.min is not None and option.max is not None:
            widget: widgets.ValueWidget = widgets.FloatSlider(
                value=float(_initial(option, settings)), step=option.step or 0.01,
                readout_format=".2f", **bounds)
        elif option.type == "float":
            widget = widgets.BoundedFloatText(value=float(_initial(option, settings)), **bounds)
        else:
            widget = widgets.BoundedIntText(value=int(_initial(option, settings)),
                                            **{k: int(max(min(v, 2**63 - 1), -2**63))
                                               for k, v in bounds.items()},
                                            layout=widgets.Layout(width="9em"))
        return OptionalValue(label, widget, tip)
    if option.type == "choice":
        choices = [(choice, choice) for choice in option.choices]
        if option.default is None:
            choices.insert(0, ("default", UNSET))
        return widgets.Dropdown(options=choices, value=option.default or UNSET,
                                description=label, tooltip=tip, style=wide,
                                layout=widgets.Layout(width="15em"))
    if option.type == "flag":
        return widgets.Checkbox(False, description=label, indent=False, tooltip=tip,
                                layout=widgets.Layout(width="8.5em"))
    return widgets.Text(description=label, placeholder=tip, tooltip=tip, style=wide,
                        layout=widgets.Layout(width="100%" if option.role == "request"
                                              else "16em"))


def control_value(option: Option, control: Any) -> Any:
    """The option's value as the control shows it, checked (None: not set); a bad value is a
    one-line UsageError."""
    value = control.value
    if (option.type == "choice" and value == UNSET) or \
            (option.type == "str" and not value.strip()):
        return None
    return option.check(value)


def model_choices(engine: Engine) -> tuple[list[tuple[str, str]], str]:
    """``(label, model)`` pairs for the picker, in ``%llm models``' order (what works now
    first), without the embeddings models, and the default model's value. A label says what
    is missing, e.g. ``gpt-4o-mini — set OPENAI_API_KEY``."""
    default = engine.model()
    default_value = default.alias or engine.default_model()
    choices = [(f"{alias} — {status}{' · default' if spec == default else ''}", alias)
               for alias, spec, _, status in engine.models_by_availability()
               if engine.supports(spec, "generation")]
    if default_value not in {value for _, value in choices}:
        choices.insert(0, (f"{default_value} — {engine.availability(default)[1]} · default",
                           default_value))
    return choices, default_value


def model_label(engine: Engine, name: str) -> str:
    """A picker label for a model named outside the configuration (``provider:model``); an
    unknown name is a one-line error."""
    return f"{name} — {engine.availability(engine.model(name))[1]}"
