"""Ready-made surveys (NPS, CSAT, CES, post-purchase, post-support) in English, French and German.

Each template is a plain spec in the shape :func:`cxloop.feedback.services.survey_create` takes,
so a template is just a survey someone already wrote: it goes through the same validation.
"""

from __future__ import annotations

import copy

LANGUAGES = ("en", "fr", "de")

_NPS_SCALE = {
    "en": ["Not at all likely", "Extremely likely"],
    "fr": ["Pas du tout probable", "Très probable"],
    "de": ["Gar nicht wahrscheinlich", "Äußerst wahrscheinlich"],
}
_CSAT_SCALE = {
    "en": ["Very dissatisfied", "Very satisfied"],
    "fr": ["Très insatisfait", "Très satisfait"],
    "de": ["Sehr unzufrieden", "Sehr zufrieden"],
}
_CES_SCALE = {
    "en": ["Very difficult", "Very easy"],
    "fr": ["Très difficile", "Très facile"],
    "de": ["Sehr schwierig", "Sehr einfach"],
}
_ANYTHING_ELSE = {
    "en": "Anything else you would like to tell us?",
    "fr": "Souhaitez-vous nous dire autre chose ?",
    "de": "Möchten Sie uns sonst noch etwas sagen?",
}


def _nps_questions() -> list[dict]:
    return [
        {
            "key": "nps",
            "type": "rating",
            "required": True,
            "scale_min": 0,
            "scale_max": 10,
            "metric": "nps",
            "scale_labels": _NPS_SCALE,
            "text": {
                "en": "How likely are you to recommend us to a friend or colleague?",
                "fr": "Quelle est la probabilité que vous nous recommandiez à un proche ?",
                "de": "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
            },
        },
        {
            "key": "why_detractor",
            "type": "text",
            "show_if": {"question": "nps", "op": "lte", "value": 6},
            "text": {
                "en": "We're sorry to hear that. What disappointed you, and what should we fix first?",
                "fr": "Nous en sommes désolés. Qu'est-ce qui vous a déçu et que devrions-nous corriger en premier ?",
                "de": "Das tut uns leid. Was hat Sie enttäuscht und was sollten wir zuerst verbessern?",
            },
        },
        {
            "key": "why_passive",
            "type": "text",
            "show_if": {"question": "nps", "op": "in", "value": [7, 8]},
            "text": {
                "en": "What would it take for you to give us a 10?",
                "fr": "Que faudrait-il pour que vous nous donniez 10 ?",
                "de": "Was müssten wir tun, damit Sie uns eine 10 geben?",
            },
        },
        {
            "key": "why_promoter",
            "type": "text",
            "show_if": {"question": "nps", "op": "gte", "value": 9},
            "text": {
                "en": "Thank you! What do you like most about us?",
                "fr": "Merci ! Qu'appréciez-vous le plus chez nous ?",
                "de": "Danke! Was gefällt Ihnen an uns am besten?",
            },
        },
    ]


def _csat_question(text: dict, key: str = "csat") -> dict:
    return {
        "key": key,
        "type": "rating",
        "required": True,
        "scale_min": 1,
        "scale_max": 5,
        "metric": "csat",
        "scale_labels": _CSAT_SCALE,
        "text": text,
    }


def _ces_question(text: dict) -> dict:
    return {
        "key": "ces",
        "type": "rating",
        "required": True,
        "scale_min": 1,
        "scale_max": 7,
        "metric": "ces",
        "scale_labels": _CES_SCALE,
        "text": text,
    }


def _comment(key: str = "comment", text: dict | None = None, **extra) -> dict:
    return {"key": key, "type": "text", "text": text or _ANYTHING_ELSE, **extra}


def _choice(value: str, en: str, fr: str, de: str) -> dict:
    return {"value": value, "label": {"en": en, "fr": fr, "de": de}}


def _templates() -> dict[str, dict]:
    return {
        "nps": {
            "name": "Relationship NPS",
            "kind": "nps",
            "description": "0–10 recommendation score with a different “why?” for detractors, passives and promoters.",
            "intro": {
                "en": "Two quick questions: it takes less than a minute.",
                "fr": "Deux questions rapides : moins d'une minute.",
                "de": "Zwei kurze Fragen: Es dauert weniger als eine Minute.",
            },
            "questions": _nps_questions(),
        },
        "csat": {
            "name": "Customer satisfaction (CSAT)",
            "kind": "csat",
            "description": "1–5 satisfaction score and an open comment.",
            "intro": {},
            "questions": [
                _csat_question(
                    {
                        "en": "Overall, how satisfied are you with us?",
                        "fr": "Dans l'ensemble, êtes-vous satisfait de nos services ?",
                        "de": "Wie zufrieden sind Sie insgesamt mit uns?",
                    }
                ),
                _comment(),
            ],
        },
        "ces": {
            "name": "Customer effort (CES)",
            "kind": "ces",
            "description": "1–7 effort score: how easy was it to get what you needed?",
            "intro": {},
            "questions": [
                _ces_question(
                    {
                        "en": "How easy was it to get what you needed today?",
                        "fr": "Dans quelle mesure a-t-il été facile d'obtenir ce dont vous aviez besoin ?",
                        "de": "Wie einfach war es, heute das zu bekommen, was Sie brauchten?",
                    }
                ),
                _comment(),
            ],
        },
        "post_purchase": {
            "name": "Post-purchase survey",
            "kind": "csat",
            "description": "CSAT after an order, what went wrong for unhappy buyers, what stood out.",
            "intro": {
                "en": "Thanks for your order! Tell us how it went.",
                "fr": "Merci pour votre commande ! Dites-nous comment cela s'est passé.",
                "de": "Danke für Ihre Bestellung! Erzählen Sie uns, wie es war.",
            },
            "questions": [
                _csat_question(
                    {
                        "en": "How satisfied are you with your recent order?",
                        "fr": "Êtes-vous satisfait de votre commande récente ?",
                        "de": "Wie zufrieden sind Sie mit Ihrer letzten Bestellung?",
                    }
                ),
                {
                    "key": "problem",
                    "type": "single_choice",
                    "show_if": {"question": "csat", "op": "lte", "value": 3},
                    "text": {
                        "en": "What went wrong?",
                        "fr": "Qu'est-ce qui n'a pas fonctionné ?",
                        "de": "Was ist schiefgelaufen?",
                    },
                    "choices": [
                        _choice(
                            "late_delivery",
                            "Late delivery",
                            "Livraison en retard",
                            "Verspätete Lieferung",
                        ),
                        _choice(
                            "damaged",
                            "Item arrived damaged",
                            "Article endommagé",
                            "Artikel beschädigt",
                        ),
                        _choice("fit", "Size or fit", "Taille ou coupe", "Größe oder Passform"),
                        _choice(
                            "checkout",
                            "Checkout was hard",
                            "Paiement compliqué",
                            "Bezahlvorgang schwierig",
                        ),
                        _choice("other", "Something else", "Autre chose", "Etwas anderes"),
                    ],
                },
                {
                    "key": "highlights",
                    "type": "multiple_choice",
                    "show_if": {"question": "csat", "op": "gte", "value": 4},
                    "text": {
                        "en": "What did you like? (choose any)",
                        "fr": "Qu'avez-vous aimé ? (plusieurs choix possibles)",
                        "de": "Was hat Ihnen gefallen? (Mehrfachauswahl)",
                    },
                    "choices": [
                        _choice(
                            "delivery", "Fast delivery", "Livraison rapide", "Schnelle Lieferung"
                        ),
                        _choice(
                            "quality", "Product quality", "Qualité des produits", "Produktqualität"
                        ),
                        _choice("price", "Price", "Prix", "Preis"),
                        _choice(
                            "staff", "Friendly staff", "Personnel aimable", "Freundliches Personal"
                        ),
                    ],
                },
                _comment(),
            ],
        },
        "post_support": {
            "name": "Post-support survey",
            "kind": "ces",
            "description": "Effort score after a support contact, whether it was solved, agent CSAT.",
            "intro": {
                "en": "You recently contacted our support team. How did we do?",
                "fr": "Vous avez récemment contacté notre service client. Comment cela s'est-il passé ?",
                "de": "Sie haben kürzlich unseren Kundendienst kontaktiert. Wie war es?",
            },
            "questions": [
                _ces_question(
                    {
                        "en": "How easy was it to get your issue resolved?",
                        "fr": "Dans quelle mesure a-t-il été facile de résoudre votre problème ?",
                        "de": "Wie einfach war es, Ihr Anliegen zu lösen?",
                    }
                ),
                {
                    "key": "resolved",
                    "type": "single_choice",
                    "required": True,
                    "text": {
                        "en": "Is your issue resolved?",
                        "fr": "Votre problème est-il résolu ?",
                        "de": "Ist Ihr Anliegen gelöst?",
                    },
                    "choices": [
                        _choice("yes", "Yes", "Oui", "Ja"),
                        _choice("partly", "Partly", "En partie", "Teilweise"),
                        _choice("no", "No", "Non", "Nein"),
                    ],
                },
                _comment(
                    "what_went_wrong",
                    {
                        "en": "What made it hard?",
                        "fr": "Qu'est-ce qui a rendu les choses difficiles ?",
                        "de": "Was hat es schwierig gemacht?",
                    },
                    show_if={"question": "ces", "op": "lte", "value": 4},
                ),
                _comment(),
            ],
        },
    }


TEMPLATE_KEYS = ("nps", "csat", "ces", "post_purchase", "post_support")


def template_spec(key: str, *, languages: list[str] | None = None) -> dict:
    """A deep copy of template ``key`` limited to ``languages`` (default: all it has)."""
    templates = _templates()
    if key not in templates:
        raise KeyError(f"unknown survey template {key!r}; choose one of {', '.join(TEMPLATE_KEYS)}")
    spec = copy.deepcopy(templates[key])
    wanted = list(languages or LANGUAGES)
    unknown = [lang for lang in wanted if lang not in LANGUAGES]
    if unknown:
        raise KeyError(f"template {key!r} has no {', '.join(unknown)} translation")
    spec["languages"] = wanted

    def keep(texts: dict) -> dict:
        return {lang: text for lang, text in texts.items() if lang in wanted}

    spec["intro"] = keep(spec["intro"])
    for question in spec["questions"]:
        question["text"] = keep(question["text"])
        if "scale_labels" in question:
            question["scale_labels"] = keep(question["scale_labels"])
        for choice in question.get("choices", []):
            choice["label"] = keep(choice["label"])
    return spec


def template_list() -> list[dict]:
    """Key, name, kind and description of every template (for the "new survey" page)."""
    templates = _templates()
    return [
        {
            "key": key,
            "name": templates[key]["name"],
            "kind": templates[key]["kind"],
            "description": templates[key]["description"],
            "questions": len(templates[key]["questions"]),
        }
        for key in TEMPLATE_KEYS
    ]
