"""My digits: the drawings you confirmed or corrected, what each model reads, the set as a file, fine-tuning."""
from lab import my_digits_view, page

page.frame("My digits", ":material/collections_bookmark:")
my_digits_view.page_body()
