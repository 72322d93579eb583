"""The staffing advisor: tomorrow's arrivals from the centre's own history, and the counters they need.

``calendar`` says what kind of day a date is (weekday, payday, month end, Kenyan
public holiday); ``history`` reads arrivals per half hour from the centre's tickets;
``forecast`` fits a Poisson GLM (statsmodels) on them and backtests it against the
seasonal-naive forecast; ``erlang`` gives the first cut of counters; ``plan`` checks
and corrects that cut by replaying forecast days through the real engine with the
centre's own counters and skills, and compares a plan with what happened;
``simulate`` writes a simulated month of history with known rates for demos and tests.
"""
