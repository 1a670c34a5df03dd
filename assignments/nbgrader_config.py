"""nbgrader's settings for this course folder: run nbgrader (or `make assignments`) from assignments/."""
import os

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "nst-notebooks"
# the gradebook (which check cells exist, their points, students' scores): built by `make assignments`
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
# the student version: each function body becomes this stub
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# autograding runs every cell; the demos load VGG19 once (a few seconds on a laptop CPU)
c.Execute.timeout = 300
