"""Phrase lists of cxrgen's rule-based CheXpert-style labeler (written for cxrgen, not copied).

Each entry is a regular-expression fragment matched on lowercased text at word boundaries.
``MENTIONS`` are findings mentioned as such ("small left effusion"); ``SUBJECTS`` are anatomy that only
counts together with a size qualifier ("the heart is enlarged", "heart size is normal"); ``UNMENTIONS``
overlap a mention and cancel it ("pericardial effusion" is not a pleural effusion).
``OTHER`` lists findings outside the 14 classes that still rule out "No Finding" when asserted.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------ mentions
MENTIONS: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        r"widen(?:ed|ing) (?:of (?:the )?)?(?:superior )?mediastinum", r"mediastinal (?:widening|enlargement)",
        r"(?:widened|enlarged) (?:superior )?mediastin(?:um|al (?:silhouette|contours?))",
        r"enlarged cardiomediastinal (?:silhouette|contours?)", r"cardiomediastinal enlargement",
        r"mediastinal (?:mass|lymphadenopathy|adenopathy)",
    ],
    "Cardiomegaly": [
        r"cardiomegaly", r"cardiac (?:enlargement|hypertrophy)", r"enlarge(?:d|ment of the) heart",
        r"enlarged (?:cardiac|heart) (?:silhouette|shadow|size|contours?)", r"heart enlargement",
        r"cardiomegalic", r"megacardia",
    ],
    "Lung Lesion": [
        r"nodules?", r"nodular lesions?", r"nodularity", r"fibronodular", r"masse?s?",
        r"mass[- ]like", r"lesions?", r"tumou?rs?", r"neoplasms?", r"neoplastic", r"carcinoma",
        r"malignan(?:cy|t)", r"metasta(?:sis|ses|tic)", r"cavitary (?:lesion|mass|nodule)s?", r"cavitations?",
        r"cancer", r"lymphoma",
    ],
    "Lung Opacity": [
        r"opaci(?:ty|ties|fication|fications|fied)", r"densit(?:y|ies)", r"infiltrat(?:e|es|ion|ive)",
        r"air[- ]?space (?:disease|process|filling|opacit(?:y|ies))", r"alveolar (?:process|filling|opacit(?:y|ies))",
        r"ground[- ]glass", r"haz(?:e|iness|y)", r"shadowing", r"parenchymal (?:disease|process|abnormality)",
        r"reticul(?:ar|onodular)(?: (?:opacit(?:y|ies)|markings?|pattern))?",
        r"(?:increased|prominent|coarse(?:ned)?) (?:interstitial|lung|pulmonary|bronchovascular) markings?",
        r"interstitial (?:markings?|prominence|thickening|process|disease|changes?|pattern)",
        r"prominence of the interstitial markings?",
    ],
    "Edema": [
        r"(?:pulmonary |interstitial |alveolar |perihilar |hydrostatic |mild |overt |frank )*edema",
        r"(?:pulmonary )?vascular (?:congestion|engorgement|redistribution)", r"pulmonary congestion",
        r"congestive (?:changes?|failure|heart failure)", r"fluid overload", r"volume overload",
        r"cephali[sz]ation", r"kerley b", r"chf",
        r"(?:prominen(?:t|ce)|increased|engorged|engorgement|indistinct(?:ness)?|fullness|congested|haz(?:y|iness)) (?:of )?(?:the )?"
        r"(?:central |upper lobe |bilateral )?(?:pulmonary |lung |perihilar )?(?:vascula(?:r|rity|ture)|vessels)(?: markings)?",
        r"(?:pulmonary |lung |central )?(?:vascula(?:rity|ture)|vessels|vascular markings) (?:is |are |appears? |remains? )?"
        r"(?:again |now |still )?(?:mildly |slightly |moderately )?(?:prominent|increased|engorged|indistinct|congested|cephalized)",
        r"engorged", r"pulmonary venous hypertension", r"venous congestion", r"congestion",
    ],
    "Consolidation": [r"consolidat(?:ion|ions|ive|ed)", r"air bronchograms?"],
    "Pneumonia": [r"pneumonias?", r"bronchopneumonia", r"pneumonitis", r"infections?", r"infectious (?:process|etiology)",
                  r"infective", r"aspiration"],
    "Atelectasis": [r"atelecta(?:sis|ses|tic)", r"(?:lung|lobar|lobe|segmental|subsegmental|basilar|basal) collapse",
                    r"collapse of the (?:\w+ )?(?:lung|lobe)", r"collapsed (?:lung|lobe)", r"plate[- ]?like",
                    r"discoid"],
    "Pneumothorax": [r"pneumothora(?:x|ces)", r"hydropneumothorax", r"ptx", r"pleural air(?: collections?)?",
                     r"apical (?:air|lucency)"],
    "Pleural Effusion": [
        r"(?:pleural )?effusions?", r"hydrothora(?:x|ces)", r"pleural fluid", r"fluid in the (?:\w+ )?pleural",
        r"(?:blunting|blunted|obliteration) of the (?:\w+ )?(?:costophrenic|cp) (?:angles?|sulc(?:us|i)|recess(?:es)?)",
        r"(?:costophrenic|cp) (?:angle|sulcus|recess)s? (?:blunting|obliteration)",
        r"blunted (?:\w+ )?(?:costophrenic|cp) (?:angles?|sulc(?:us|i))", r"layering fluid", r"meniscus sign",
    ],
    "Pleural Other": [
        r"pleural (?:thickening|plaques?|calcifications?|scarring|scar|fibrosis|reaction|based (?:opacity|density|thickening))",
        r"pleural[- ]parenchymal (?:scarring|thickening|changes?)", r"fibrothorax", r"pleural-based",
        r"calcified pleura", r"pleural calcified plaques?", r"apical (?:pleural )?(?:cap|capping)",
    ],
    "Fracture": [r"fractures?", r"fractured", r"fx"],
    "Support Devices": [
        r"pacemakers?", r"pacers?", r"pacing (?:device|wires?|leads?|generator)", r"defibrillators?", r"aicd",
        r"icd", r"(?:cardiac |transvenous )?leads?", r"catheters?", r"picc(?: lines?)?", r"port[- ]?a[- ]?cath",
        r"(?:central|venous|midline|arterial|jugular|subclavian|swan[- ]ganz|dialysis) (?:venous )?(?:line|catheter)s?",
        r"(?:endotracheal|tracheostomy|nasogastric|orogastric|feeding|chest|enteric|et|ng|og|dobhoff) tubes?",
        r"tracheostomy", r"drains?", r"(?:sternotomy|sternal|cerclage) wires?", r"wires?", r"stents?",
        r"(?:surgical )?clips?", r"(?:valve|valvular) (?:replacement|prosthesis)", r"prosthetic valve",
        r"(?:spinal |orthopedic |surgical )?hardware", r"(?:implanted |cardiac )?devices?", r"lvad", r"iabp",
        r"intra-?aortic balloon pump", r"ventriculoperitoneal shunt", r"vp shunt", r"shunt catheter", r"electrodes?",
        r"loop recorder", r"(?:chest )?port", r"monitoring (?:leads|device)",
    ],
}

# anatomy that becomes a mention only with a size qualifier nearby
SUBJECTS: dict[str, list[str]] = {
    "Cardiomegaly": [r"heart(?: size| shadow| silhouette| contours?)?", r"cardiac (?:size|silhouette|shadow|contours?|outline)",
                     r"heart and mediastinum", r"cardiac and mediastinal (?:silhouettes?|contours?)"],
    "Enlarged Cardiomediastinum": [r"cardio-?mediastinal (?:silhouettes?|contours?|shadow|size|outline)",
                                   r"(?:superior )?mediastin(?:um|al (?:silhouette|contours?|width|shadow|structures))",
                                   r"heart and mediastinum", r"cardiac and mediastinal (?:silhouettes?|contours?)"],
}
# "cardiomediastinal silhouette is enlarged" says the heart may be large too: Cardiomegaly uncertain
SUBJECT_SPILL = {"Enlarged Cardiomediastinum": ("Cardiomegaly", -1)}

QUAL_UNCERTAIN = (r"borderline|top[- ]normal|upper (?:limits?|range) of normal|upper normal|high[- ]normal|"
                  r"(?:at |in )?the upper limits?|upper limit of normal|mildly prominent|slightly prominent")
QUAL_POSITIVE = r"enlarge(?:d|ment)|large|larger|increased|prominent|widened|widening|big|globular|cardiomegaly"
QUAL_NEGATIVE = r"normal|unremarkable|within normal limits|not enlarged|stable in size and normal|negative"

UNMENTIONS: dict[str, list[str]] = {
    "Lung Lesion": [r"(?:soft tissue|breast|neck|body|muscle|mediastinal|hilar|axillary|abdominal|renal|liver|hepatic|thyroid|adrenal) (?:mass|masses|lesions?|nodules?)",
                    r"mass effect", r"(?:bone|bony|osseous|lytic|sclerotic|blastic|skin|cutaneous) (?:lesions?|nodules?)",
                    r"nipple (?:shadows?|markers?)",
                    r"lesion of the (?:spine|bone|rib)", r"nodular contour",
                    r"no (?:new )?(?:suspicious )?lesions? (?:of|in) the (?:bone|spine)"],
    "Lung Opacity": [r"(?:bone|bony|osseous|breast|soft tissue|tissue) densit(?:y|ies)", r"increased densit(?:y|ies) of the (?:spine|bones?|vertebra)",
                     r"pleural (?:based )?(?:opacit(?:y|ies)|densit(?:y|ies))", r"opacified (?:hemithorax|(?:\w+ )?sinus)",
                     r"sclerotic densit(?:y|ies)", r"calcified densit(?:y|ies)", r"density of the (?:spine|bones)",
                     r"mediastinal (?:opacity|density)"],
    "Pleural Effusion": [r"pericardial effusions?", r"(?:joint|knee|shoulder|elbow|subpulmonic pericardial) effusions?"],
    "Edema": [r"(?:soft tissue|subcutaneous|extremity|cerebral|bowel|wall|facial|laryngeal) edema"],
    "Pneumonia": [r"(?:urinary|urinary tract|wound|skin|line|catheter) infections?", r"aspiration risk"],
    "Atelectasis": [r"vertebral (?:body )?collapse"],
    "Support Devices": [r"leads? to", r"lead(?:s|ing)? (?:up|us|him|her|into)", r"port(?:ion|al|able)\w*",
                        r"(?:tube|line) (?:was|were) removed"],
    "Fracture": [r"no (?:acute )?fx"],
}

# findings outside the 14 classes; asserted (not negated) they rule out "No Finding" as in CheXpert
OTHER = [
    r"emphysema(?:tous)?", r"copd", r"chronic obstructive", r"hyperinfla(?:tion|ted)", r"hyperexpan(?:sion|ded)",
    r"hyperlucen(?:cy|t)", r"bullae?", r"bullous", r"granulomas?", r"granulomatous", r"calcified (?:lymph )?nodes?",
    r"scoliosis", r"kyphosis", r"kyphotic", r"degenerative", r"spondylo(?:sis|tic)", r"osteophytes?", r"osteopenia",
    r"demineraliz(?:ation|ed)", r"hernias?", r"scar(?:ring|s)?", r"cicatri(?:x|cial)", r"fibrosis", r"fibrotic",
    r"bronchiectasis", r"eventration", r"tortu(?:ous|osity)", r"ectatic", r"aortic (?:calcification|atherosclerosis|ectasia|unfolding)",
    r"(?:atherosclerotic|vascular) calcifications?", r"atherosclero(?:sis|tic)", r"calcifications?", r"calcified",
    r"(?:elevation|elevated) (?:of the )?(?:\w+ )?(?:hemi)?diaphragm", r"elevated (?:\w+ )?hemidiaphragm",
    r"hemidiaphragm (?:is |remains )?elevated", r"bronchial (?:wall )?thickening", r"peribronchial (?:cuffing|thickening)",
    r"cysts?", r"deformit(?:y|ies)", r"hypoinflation", r"low lung volumes?", r"(?:volume|lung) loss",
    r"pectus", r"sternotomy", r"post-?operative", r"cabg", r"lobectomy", r"pneumonectomy", r"mastectomy",
    r"thickening", r"hilar (?:enlargement|prominence|adenopathy|lymphadenopathy)", r"lymphadenopathy", r"adenopathy",
    r"pulmonary (?:arterial )?hypertension", r"enlarged pulmonary arter(?:y|ies)", r"subcutaneous emphysema",
    r"pneumomediastinum", r"pneumoperitoneum", r"free air", r"foreign bod(?:y|ies)", r"bronchitis", r"airway disease",
    r"arthritis", r"arthritic", r"arthropathy", r"dislocation", r"separation", r"epicardial fat", r"curvature",
    r"endplate", r"(?:diminished|decreased|reduced) lung volumes?", r"sarcoid(?:osis)?", r"spurring", r"widening",
]

# ------------------------------------------------------------------------------------------ modifiers
# checked first (CheXpert's "pre-negation uncertainty"): the finding cannot be ruled out
PRE_NEG_UNCERTAIN_BEFORE = (r"(?:cannot|can ?not|could not|can't|not|difficult to|unable to) (?:be )?(?:entirely |completely |definitely |totally )?"
                            r"(?:exclude|excluded|rule out|ruled out|be excluded)|(?:to )?exclude|rule out|r/o|"
                            r"question(?:able)?(?: of)?|evaluate for|assess for")
PRE_NEG_UNCERTAIN_AFTER = (r"(?:is |are |was |were )?(?:\w+ )?(?:not|cannot|can ?not|could not|can't) (?:be )?"
                           r"(?:entirely |completely |definitely |definitively |totally |fully |confidently )?"
                           r"(?:excluded|ruled out|exclude|rule(?:d)? out)|"
                           r"(?:is |are |was |were |would be |may be |remains? )?(?:\w+ )?(?:difficult|hard|impossible) to "
                           r"(?:entirely |completely |definitely |fully )?(?:exclude|rule out)")

NEG_BEFORE = (r"no|not|without|negative for|free of|clear of|absence of|absent|resolution of|resolved|resolving of|"
              r"removal of|removed|rather than|never|nor|neither|none|no longer|exclude[sd]?|ruled out|no evidence of|"
              r"no signs? of|interval removal of|disappearance of")
NEG_AFTER = (r"(?:is |are |was |were |has |have |had )?(?:been )?(?:\w+ ){0,1}?(?:not|no longer|never) (?:\w+ ){0,1}?"
             r"(?:seen|identified|visuali[sz]ed|present|appreciated|evident|detected|demonstrated|noted|observed|apparent|visible|shown|"
             r"definite(?:ly)?|included|confirmed|there)|"
             r"(?:is |are |was |were |has |have |had )?(?:been )?(?:\w+ ){0,1}?(?:resolved|cleared|removed|absent|gone|withdrawn|negative)|"
             # a finding in a coordinated subject of a normal predicate: "heart size and vascular engorgement
             # appear within limits of normal"; the verb is required ("edema and normal heart size" is not this)
             r"(?:is|are|was|were|appears?|remains?|seems?|looks?) (?:(?!not\b)\w+ ){0,2}?"
             r"(?:within (?:the )?(?:normal limits|limits of normal)|normal|unremarkable)")

UNC_BEFORE = (r"possible|possibly|may|might|could|questionable|question of|questioned|suspicious(?: for)?|suspected|"
              r"suspect|suspicion (?:of|for)|concern(?:ing)? (?:for|of)|suggestive of|suggests?|suggesting|likely|"
              r"probable|probably|presumed|presumably|perhaps|versus|vs|differential|consider(?:ed)?|equivocal|"
              r"indeterminate|uncertain|not certain|could represent|may represent|worrisome for|worrisome|"
              r"raises? (?:the )?(?:possibility|question) of|borderline|cannot be characterized|"
              r"(?:may|could|might) (?:also )?(?:be|represent|reflect|indicate)")
UNC_AFTER = (r"\?|(?:is |are |was |were )(?:\w+ )?(?:possible|possibly|suspected|questioned|questionable|likely|"
             r"probable|not (?:certain|definite)|suspicious|a (?:possibility|consideration))|(?:versus|vs)\b|"
             r"(?:may|might|could) (?:also |still )?(?:be )?(?:present|there|developing|seen)")

# the first word of a clause's predicate ("... have resolved", "... cannot be excluded"): the after-mention rules
# are also tried from here, so a cue far from the mention still reaches it across a coordinated subject
# ("effusion and the small pneumothorax have resolved") or a location ("consolidation at the left base is
# not excluded"). The words between mention and predicate contain no predicate word, by construction.
PREDICATE = (r"is|are|was|were|has|have|had|cannot|can ?not|can't|could|may|might|would|should|will|"
             r"remains?|appears?|persists?|seems?|looks?|not|no longer|"
             # verbless predicates of telegraphic reports ("clips unchanged", "effusion noted"): they end a gap too
             r"unchanged|stable|noted|seen|present|identified|visuali[sz]ed")
# lung anatomy: a site phrase containing one of these is in the lung ("opacity at the left base overlying the spine")
LUNG_WORDS = (r"lungs?|lingula\w*|hil(?:um|a|ar)|hemithora(?:x|ces)|bases?|apex|apices|apical|zones?|fields?|segments?|"
              r"segmental|parenchym\w*|basilar|bibasilar|basal|retrocardiac|perihilar|pulmonary|lobes?(?! of the (?:liver|thyroid))|"
              r"lobar|costophrenic|airspace|alveolar")
# sites outside the lung that a Lung Lesion / Lung Opacity mention can be in or project over
# ("nodular density in the left breast", "soft tissue opacity projecting over the left shoulder")
EXTRATHORACIC_SITES = (r"shoulders?|humer(?:us|i|al (?:head|neck|shaft))|breasts?|nipples?|axill(?:a|ae|ary)|neck|"
                       r"supraclavicular (?:region|fossa|soft tissues?)|thyroid(?: gland)?|abdomen|upper abdomen|"
                       r"(?:right|left) upper quadrant|liver|spleen|kidneys?|stomach|gastric (?:fundus|bubble)|bowel|colon|"
                       r"gallbladder|soft tissues?|skin|chest wall")
# bones of the thorax: only a lesion *in* them is non-lung ("lesion of the rib"); projecting over a rib or the
# clavicle is how lung nodules are often located, so that still counts
THORACIC_BONES = (r"ribs?|clavicles?|scapulae?|scapular|sternum|spine|vertebrae?|vertebral bod(?:y|ies)|"
                  r"(?:[tlc]\d{1,2}|thoracic|lumbar|cervical) (?:vertebral body|vertebra|spine)|spinous process(?:es)?|"
                  r"bones?|osseous structures")
SITE_PREP_IN = r"in|of|within|involving|throughout|arising from|from"
SITE_PREP_OVER = r"over|overlying|projecting over|projects over|projecting on|superimposed on|at|near|along"
# a finding that is not a lung lesion or opacity because of where it is: stops "No Finding" like OTHER does
NONLUNG_LESION = (r"(?:bone|bony|osseous|lytic|sclerotic|blastic|expansile|skin|cutaneous|soft tissue|breast|thyroid) "
                  r"(?:lesions?|nodules?|masse?s?|densit(?:y|ies)|opacit(?:y|ies))")

# words that look like negations but are not ("no change in the effusion")
PSEUDO_NEG = (r"no (?:significant |definite |appreciable |substantial |interval |\w+ )?(?:change|changes|increase|"
              r"decrease|worsening|improvement|progression|difference)|not (?:significantly )?(?:changed|increased|decreased|"
              r"improved|worsened|only)|without (?:significant |interval )?(?:change|changes|increase|interval change)|"
              r"gram[- ]negative|no longer (?:enlarged)")

# clause/scope terminators (NegEx "conjunctions"); sentences end at . ? ! ; and line breaks
TERMINATORS = (r"but|however|although|though|except|whereas|while|which|aside from|apart from|other than|"
               r"there (?:is|are|has been|have been|was|were)|with the exception of|otherwise")
