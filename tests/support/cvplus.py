"""The CVPlus web app's data as it really is, for tests at every level."""

from __future__ import annotations

from typing import Any

# What the app's parser can store (CVPLUS functions/src/services/cvParser.ts L177-250 at
# a049d87: "endDate": null when current, null or [] for anything not found; the model's JSON is
# stored unchanged, L270-277 and processCV.ts L286-291).
PARSER_CV: dict[str, Any] = {
    "personalInfo": {
        "name": "Amara Okafor",
        "email": None,
        "phone": None,
        "location": "Lagos, Nigeria",
        "linkedin": None,
        "github": None,
        "website": None,
    },
    "summary": None,
    "experience": [
        {
            "company": "Ledgerly",
            "position": "Principal Engineer, " + "Payments Platform " * 20,
            "duration": "2021 - Present",
            "startDate": "2021-03-01",
            "endDate": None,
            "location": None,
            "description": None,
            "achievements": None,
        }
    ],
    "education": [
        {
            "institution": "University of Lagos",
            "degree": "BSc",
            "field": "Computer Science",
            "startDate": 2012,
            "endDate": 2016,
            "graduationDate": None,
            "gpa": 3.8,
        }
    ],
    "skills": {"technical": ["Python", "Go", None], "soft": None, "languages": ["English", 7]},
    "languages": ["English", "Yoruba"],
    "certifications": None,
    "projects": [{"name": "Ledger", "description": None, "technologies": None, "link": None}],
    "achievements": None,
    "references": [{"name": None, "position": None, "company": None, "contact": None}],
}

# What the app's premium guard grants the video introduction with (premiumGuard.ts L30-70).
LIFETIME: dict[str, Any] = {
    "subscriptionStatus": "premium_lifetime",
    "lifetimeAccess": True,
    "features": {"videoIntroduction": True},
}
