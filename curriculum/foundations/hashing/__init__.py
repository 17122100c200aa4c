"""Week 1: twenty arrays & hashing problems in linear time, checked against brute force."""
