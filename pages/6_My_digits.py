"""My digits: the drawings you confirmed or corrected, what each model reads, the set as a file, fine-tuning."""
from lab.frame import page
from lab.my_digits import view as my_digits_view

page.frame("My digits", ":material/collections_bookmark:")
my_digits_view.page_body()
