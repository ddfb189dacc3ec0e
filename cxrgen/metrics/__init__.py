"""Report metrics: NLG (pycocoevalcap), clinical efficacy (rule-based CheXpert labeler), bootstrap."""
