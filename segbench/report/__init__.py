"""Reports of RunRecords: terminal tables (:mod:`.tables`), leaderboards (:mod:`.leaderboard`, pandas),
Markdown (:mod:`.markdown`), self-contained HTML with figures (:mod:`.html`) and run comparison
(:mod:`.compare`). Every report is a pure function of records."""
